/**
 * Integers and event times read from canonical JSON bytes (`event_time.ts`) are what the parser
 * gives: `intValue` takes exactly the safe integers as JSON.stringify writes them, at every
 * length and at the safe range's edges, and `eventTime` falls back to the parser elsewhere.
 */

import { eventTime, intValue } from "../../../daemon/event/event_time.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const enc = new TextEncoder();

/** What `intValue` must give for a token: the parser's safe integer, else NaN. */
function reference(token: string): number {
  if (!/^-?(0|[1-9][0-9]*)$/.test(token)) return NaN;
  const n = JSON.parse(token) as number;
  return Number.isSafeInteger(n) ? n : NaN;
}

/** `intValue` of the token, read from inside a line as the export reads it. */
function read(token: string): number {
  const buf = enc.encode(`{"x":${token},"y":1}`);
  return intValue(buf, 5, 5 + enc.encode(token).length);
}

Deno.test("intValue() reads the safe integers the parser reads, and nothing else", () => {
  const tokens = [
    "0",
    "-0",
    "7",
    "-7",
    "12345678",
    "123456789",
    "99999999",
    "100000000",
    "1776992256000000",
    "-1776992256000000",
    String(Number.MAX_SAFE_INTEGER),
    String(-Number.MAX_SAFE_INTEGER),
    "9007199254740992",
    "9007199254740993",
    "9999999999999999",
    "10000000000000000",
    "",
    "-",
    "00",
    "01",
    "-01",
    "1e5",
    "1.5",
    "12a4",
    "1/2",
    ":1",
    "+1",
    " 1",
  ];
  // Every length from 1 to 17 digits, with each digit, first and last.
  for (let len = 1; len <= 17; len++) {
    for (let d = 1; d <= 9; d++) {
      tokens.push(String(d).repeat(len), `-${d}${"0".repeat(len - 1)}`, `1${"0".repeat(len - 1)}`);
      tokens.push(`${"9".repeat(len - 1)}${d}`);
    }
  }
  for (const t of tokens) {
    const want = reference(t);
    const got = read(t);
    assertEquals(Object.is(got, want) || (got === want), true, `${JSON.stringify(t)}: ${got}`);
  }
});

Deno.test("eventTime() reads ts from canonical bytes, and from the parser otherwise", () => {
  const at = (json: string) => {
    const buf = enc.encode(`xx${json}yy`);
    return eventTime(buf, 2, buf.length - 2);
  };
  assertEquals(at('{"seq":12,"ts":1776992256000000,"source":"a"}'), 1776992256000000);
  assertEquals(at('{"seq":12,"ts":-5}'), -5);
  // Not canonical (white space, another order, a float): the parser's answer.
  assertEquals(at('{"seq": 12, "ts": 1776992256000001}'), 1776992256000001);
  assertEquals(at('{"ts":3,"seq":1}'), 3);
  assertEquals(at('{"seq":1,"ts":9007199254740993}'), 9007199254740992);
  assertThrows(() => at('{"seq":1}'), { instanceOf: SyntaxError, message: "no ts" });
  assertThrows(() => at("{nope"), { instanceOf: SyntaxError });
});
