/**
 * `parseJsonExact()`: numbers a double cannot hold come back as the strings of their digits,
 * every other value exactly as `JSON.parse` gives it — at any depth, in arrays and objects.
 */

import { parseJsonExact, sameDecimal } from "../../../daemon/event/json_exact.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

Deno.test("parseJsonExact() keeps numbers past 2^53 and out of range as their digits", () => {
  assertEquals(
    parseJsonExact(
      '{"a":12345678901234567890,"b":[9007199254740993,-9007199254740993],' +
        '"c":{"d":0.1,"e":1.0,"f":1e21,"g":1e400,"h":-0,"i":1.00000000000000000001,' +
        '"j":123456789.12345678,"m":0.12345678901234567890,"k":"12345678901234567890","l":2.5e-3}}',
    ),
    {
      a: "12345678901234567890",
      b: ["9007199254740993", "-9007199254740993"],
      c: {
        d: 0.1,
        e: 1,
        f: 1e21,
        g: "1e400",
        h: -0,
        i: "1.00000000000000000001",
        j: 123456789.12345678,
        m: "0.12345678901234567890",
        k: "12345678901234567890",
        l: 0.0025,
      },
    },
  );
});

Deno.test("parseJsonExact() leaves exact numbers numbers and fails as JSON.parse does", () => {
  assertEquals(parseJsonExact("[9007199254740992, 1234567890123456, 0.30000000000000004]"), [
    9007199254740992,
    1234567890123456,
    0.30000000000000004,
  ]);
  assertThrows(() => parseJsonExact("{bad"), SyntaxError);
  assertThrows(() => parseJsonExact("[1e5,"), SyntaxError);
});

Deno.test("sameDecimal() compares decimal values, not spellings", () => {
  assert(sameDecimal("1.50", 1.5));
  assert(sameDecimal("15e-1", 1.5));
  assert(sameDecimal("-0", 0));
  assert(!sameDecimal("12345678901234567890", 12345678901234567890));
  assert(!sameDecimal("1e400", Infinity));
});
