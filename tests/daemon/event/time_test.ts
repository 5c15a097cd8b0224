import { formatRfc3339Micros, parseRfc3339Micros } from "../../../daemon/event/time.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const MAY_1_0800Z = Date.UTC(2024, 4, 1, 8) * 1000;

Deno.test("parseRfc3339Micros() reads UTC with a Z", () => {
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00Z"), MAY_1_0800Z);
  assertEquals(parseRfc3339Micros("1970-01-01T00:00:00Z"), 0);
});

Deno.test("parseRfc3339Micros() keeps every microsecond of the fraction exactly", () => {
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00.123456Z"), MAY_1_0800Z + 123_456);
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00.000001Z"), MAY_1_0800Z + 1);
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00.999999Z"), MAY_1_0800Z + 999_999);
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00.1Z"), MAY_1_0800Z + 100_000);
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00.120Z"), MAY_1_0800Z + 120_000);
});

Deno.test("parseRfc3339Micros() applies numeric offsets in every accepted spelling", () => {
  const want = MAY_1_0800Z + 123_456;
  for (
    const text of [
      "2024-05-01T10:00:00.123456+02:00",
      "2024-05-01T10:00:00.123456+0200",
      "2024-05-01 10:00:00.123456+02",
      "2024-05-01t08:00:00.123456z",
      "2024-05-01T13:30:00.123456+05:30",
      "2024-05-01T00:00:00.123456-08:00",
      "2024-05-01T08:00:00.123456-00:00",
    ]
  ) assertEquals(parseRfc3339Micros(text), want, text);
});

Deno.test("parseRfc3339Micros() accepts digits past microseconds only when they are zero", () => {
  assertEquals(parseRfc3339Micros("2024-05-01T08:00:00.123456000Z"), MAY_1_0800Z + 123_456);
  assertThrows(() => parseRfc3339Micros("2024-05-01T08:00:00.1234567Z"), {
    instanceOf: SyntaxError,
    message: "finer than microseconds",
  });
});

Deno.test("parseRfc3339Micros() rejects text that is not a time, naming it", () => {
  for (
    const text of [
      "yesterday",
      "",
      "2024-05-01T08:00:00", // no offset: ambiguous
      "2024-05-01",
      "2024-5-1T08:00:00Z",
      "2024-05-01T08:00Z",
      "2024-05-01T08:00:00.Z",
      "2024-05-01T08:00:00+2",
      " 2024-05-01T08:00:00Z",
    ]
  ) {
    assertThrows(() => parseRfc3339Micros(text), {
      instanceOf: SyntaxError,
      message: `not an RFC 3339 time: ${JSON.stringify(text)}`,
    });
  }
});

Deno.test("parseRfc3339Micros() rejects dates and times that do not exist", () => {
  for (
    const [text, why] of [
      ["2024-02-30T00:00:00Z", "no day 30 in 2024-02"],
      ["2023-02-29T00:00:00Z", "no day 29 in 2023-02"],
      ["1900-02-29T00:00:00Z", "no day 29"],
      ["2024-13-01T00:00:00Z", "no month 13"],
      ["2024-00-01T00:00:00Z", "no month 00"],
      ["2024-04-31T00:00:00Z", "no day 31"],
      ["2024-05-01T24:00:00Z", "no time of day"],
      ["2024-05-01T08:60:00Z", "no time of day"],
      ["2024-05-01T08:00:61Z", "no time of day"],
      ["2024-05-01T08:00:00+24:00", "no such offset"],
    ]
  ) assertThrows(() => parseRfc3339Micros(text!), { instanceOf: SyntaxError, message: why! });
  assertEquals(parseRfc3339Micros("2024-02-29T00:00:00Z"), Date.UTC(2024, 1, 29) * 1000);
  assertEquals(parseRfc3339Micros("2000-02-29T00:00:00Z"), Date.UTC(2000, 1, 29) * 1000);
});

Deno.test("parseRfc3339Micros() rolls a leap second into the next minute", () => {
  assertEquals(
    parseRfc3339Micros("2016-12-31T23:59:60.5Z"),
    parseRfc3339Micros("2017-01-01T00:00:00.5Z"),
  );
});

Deno.test("parseRfc3339Micros() throws RangeError outside the safe-integer range", () => {
  for (const text of ["2300-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "0001-01-01T00:00:00Z"]) {
    assertThrows(() => parseRfc3339Micros(text), { instanceOf: RangeError, message: "outside" });
  }
  assertEquals(
    parseRfc3339Micros("2255-06-05T23:47:34.740991Z"),
    Number.MAX_SAFE_INTEGER,
  );
  assertThrows(() => parseRfc3339Micros("2255-06-05T23:47:34.740992Z"), RangeError);
  assertEquals(parseRfc3339Micros("1684-07-28T00:12:25.259009Z"), Number.MIN_SAFE_INTEGER);
  assertThrows(() => parseRfc3339Micros("1684-07-28T00:12:25.259008Z"), RangeError);
});

Deno.test("parseRfc3339Micros() cuts long input short in its message", () => {
  const err = assertThrows(() => parseRfc3339Micros("x".repeat(100_000)), SyntaxError);
  assert(err.message.length < 200, err.message);
});

Deno.test("formatRfc3339Micros() always writes six fraction digits and Z", () => {
  assertEquals(formatRfc3339Micros(0), "1970-01-01T00:00:00.000000Z");
  assertEquals(formatRfc3339Micros(MAY_1_0800Z + 123_456), "2024-05-01T08:00:00.123456Z");
  assertEquals(formatRfc3339Micros(MAY_1_0800Z + 1), "2024-05-01T08:00:00.000001Z");
  assertEquals(formatRfc3339Micros(MAY_1_0800Z), "2024-05-01T08:00:00.000000Z");
});

Deno.test("formatRfc3339Micros() rounds times before 1970 down to the earlier second", () => {
  assertEquals(formatRfc3339Micros(-1), "1969-12-31T23:59:59.999999Z");
  assertEquals(formatRfc3339Micros(-1_000_000), "1969-12-31T23:59:59.000000Z");
  assertEquals(formatRfc3339Micros(-1_000_001), "1969-12-31T23:59:58.999999Z");
});

Deno.test("formatRfc3339Micros() reaches both ends of the safe-integer range", () => {
  assertEquals(formatRfc3339Micros(Number.MAX_SAFE_INTEGER), "2255-06-05T23:47:34.740991Z");
  assertEquals(formatRfc3339Micros(Number.MIN_SAFE_INTEGER), "1684-07-28T00:12:25.259009Z");
});

Deno.test("formatRfc3339Micros() throws RangeError for anything but a safe integer", () => {
  for (const v of [1.5, NaN, Infinity, 2 ** 53, -(2 ** 53)]) {
    assertThrows(() => formatRfc3339Micros(v), RangeError);
  }
});

Deno.test("formatRfc3339Micros() and parseRfc3339Micros() round-trip random times", () => {
  let seed = 0x9e3779b9;
  const rand = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const edges = [0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 951_782_400_000_000];
  const samples = [...edges];
  for (let i = 0; i < 5000; i++) {
    samples.push(Math.floor((rand() * 2 - 1) * Number.MAX_SAFE_INTEGER));
  }
  for (const us of samples) {
    const text = formatRfc3339Micros(us);
    assertEquals(parseRfc3339Micros(text), us, text);
    // The whole seconds agree with an independent calendar: the one in Date.
    const ms = Math.floor(us / 1_000_000) * 1000;
    assertEquals(text.slice(0, 19), new Date(ms).toISOString().slice(0, 19), text);
  }
});

Deno.test("parseRfc3339Micros() agrees with Date.parse on millisecond times with offsets", () => {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < 2000; i++) {
    const ms = Math.floor((rand() * 2 - 1) * 8e15 / 1000);
    const offsetMin = Math.floor(rand() * 48 - 24) * 30;
    const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
    const sign = offsetMin < 0 ? "-" : "+";
    const abs = Math.abs(offsetMin);
    const off = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${
      String(abs % 60).padStart(2, "0")
    }`;
    const text = local + off;
    assertEquals(parseRfc3339Micros(text), Date.parse(text) * 1000, text);
  }
});
