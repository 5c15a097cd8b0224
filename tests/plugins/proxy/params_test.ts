/**
 * Bind parameters as events show them: text as sent, binary decoded by type to PostgreSQL's
 * own text form, hex for what is not decoded, null for NULL.
 */

import { paramText } from "../../../plugins/proxy/params.ts";
import { assertEquals } from "../../support/assert.ts";

function bytes(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

/** A binary numeric (`numeric_send`): base-10000 digits, weight, sign, display scale. */
function numeric(digits: number[], weight: number, sign: number, dscale: number): Uint8Array {
  return bytes(8 + 2 * digits.length, (v) => {
    v.setInt16(0, digits.length);
    v.setInt16(2, weight);
    v.setUint16(4, sign);
    v.setUint16(6, dscale);
    digits.forEach((d, i) => v.setInt16(8 + 2 * i, d));
  });
}

Deno.test("paramText() decodes binary values of known types and shows others in hex", () => {
  const enc = new TextEncoder();
  const cases: [Uint8Array | null, number, number, string | null][] = [
    [null, 1, 23, null],
    [enc.encode("42"), 0, 23, "42"],
    [bytes(4, (v) => v.setInt32(0, -5)), 1, 23, "-5"],
    [bytes(2, (v) => v.setInt16(0, 300)), 1, 21, "300"],
    [bytes(8, (v) => v.setBigInt64(0, 9007199254740993n)), 1, 20, "9007199254740993"],
    [bytes(8, (v) => v.setFloat64(0, 0.1)), 1, 701, "0.1"],
    [bytes(4, (v) => v.setFloat32(0, Infinity)), 1, 700, "Infinity"],
    [bytes(4, (v) => v.setFloat32(0, 3.14)), 1, 700, "3.14"],
    [new Uint8Array([1]), 1, 16, "t"],
    [enc.encode("héllo"), 1, 25, "héllo"],
    [new Uint8Array([1, ...enc.encode('{"a":1}')]), 1, 3802, '{"a":1}'],
    [bytes(4, (v) => v.setInt32(0, 0)), 1, 1082, "2000-01-01"],
    [bytes(4, (v) => v.setInt32(0, -1)), 1, 1082, "1999-12-31"],
    [bytes(8, (v) => v.setBigInt64(0, 1_500_000n)), 1, 1114, "2000-01-01 00:00:01.5"],
    [bytes(8, (v) => v.setBigInt64(0, -1n)), 1, 1184, "1999-12-31 23:59:59.999999+00"],
    [new Uint8Array([0xde, 0xad]), 1, 17, "\\xdead"],
    [new Uint8Array([0xde, 0xad]), 1, 1700, "\\xdead"], // numeric cut short
    [numeric([12, 5000], 0, 0, 2), 1, 1700, "12.50"],
    [numeric([10], -1, 0x4000, 3), 1, 1700, "-0.001"],
    [numeric([1], 2, 0, 0), 1, 1700, "100000000"],
    [numeric([], 0, 0, 2), 1, 1700, "0.00"],
    [numeric([], 0, 0xc000, 0), 1, 1700, "NaN"],
    [numeric([1, 2345, 6789], 1, 0x4000, 4), 1, 1700, "-12345.6789"],
    [new Uint8Array([1, 2, 3]), 1, 23, "\\x010203"], // wrong size for int4
    [new Uint8Array([0xde, 0xad]), 1, 0, "\\xdead"], // type unknown
  ];
  for (const [value, format, oid, want] of cases) {
    assertEquals(paramText(value, format, oid), want, `oid ${oid}`);
  }
});
