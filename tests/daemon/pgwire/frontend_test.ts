/**
 * The client-message decoders a relay uses: whole bodies decode exactly, bodies cut short
 * decode as far as they go and say so, and malformed whole bodies are `SyntaxError`s.
 */

import { startupMessage } from "../../../daemon/pgwire/encode.ts";
import {
  parseBind,
  parseParse,
  parseStartup,
  parseTarget,
  queryText,
} from "../../../daemon/pgwire/frontend.ts";
import { bind, describe, parse } from "../../support/frontend_messages.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const enc = new TextEncoder();
const body = (message: Uint8Array): Uint8Array => message.subarray(5);

Deno.test("parseStartup() reads a StartupMessage's parameters in order", () => {
  const packet = startupMessage({ user: "ann", database: "billing", application_name: "psql" });
  const s = parseStartup(packet.subarray(4));
  assertEquals(s.code, 196608);
  assertEquals([...s.params], [["user", "ann"], ["database", "billing"], [
    "application_name",
    "psql",
  ]]);
  assertThrows(() => parseStartup(packet.subarray(4, packet.length - 1)), SyntaxError);
});

Deno.test("parseParse() and parseBind() decode whole bodies and cut ones", () => {
  const p = body(parse("s1", "SELECT $1, $2", [23, 25]));
  assertEquals(parseParse(p, true), {
    name: "s1",
    query: "SELECT $1, $2",
    paramTypes: [23, 25],
    cut: false,
  });
  assertEquals(parseParse(p.subarray(0, 9), false), {
    name: "s1",
    query: "SELECT",
    paramTypes: [],
    cut: true,
  });
  const b = body(bind("p", "s1", [{ format: 1, value: new Uint8Array([0, 0, 0, 7]) }, {
    format: 0,
    value: enc.encode("abcdef"),
  }, { format: 0, value: null }]));
  const whole = parseBind(b, true);
  assertEquals([whole.portal, whole.statement, whole.formats, whole.count, whole.cut], [
    "p",
    "s1",
    [1, 0, 0],
    3,
    false,
  ]);
  assertEquals(whole.values.map((v) => v === null ? null : [...v]), [[0, 0, 0, 7], [
    ...enc.encode("abcdef"),
  ], null]);
  // Cut inside the second value: its head is kept, the third is missing.
  const cut = parseBind(b.subarray(0, b.length - 9), false);
  assertEquals(cut.cut, true);
  assertEquals(cut.values.map((v) => v === null ? null : new TextDecoder().decode(v)), [
    "\0\0\0\x07",
    "abc",
  ]);
  assertThrows(() => parseBind(b.subarray(0, b.length - 9), true), SyntaxError);
});

Deno.test("parseTarget() and queryText() refuse malformed whole bodies", () => {
  assertEquals(parseTarget(body(describe("P", "cur")), "a Describe message"), {
    kind: "P",
    name: "cur",
  });
  assertThrows(() => parseTarget(enc.encode("Xname\0"), "a Describe message"), SyntaxError);
  assertEquals(queryText(enc.encode("SELECT 1\0"), true), "SELECT 1");
  assertEquals(queryText(enc.encode("SELECT 1"), false), "SELECT 1");
  assertThrows(() => queryText(enc.encode("SELECT 1"), true), SyntaxError);
});
