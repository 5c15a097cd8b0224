import { decodeSpan, isUtf8 } from "../../../plugins/pgaudit/record.ts";
import { assertEquals } from "../../support/assert.ts";

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodes(b: Uint8Array): boolean {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
}

Deno.test("isUtf8() agrees with a fatal TextDecoder, edge cases and random bytes", () => {
  const cases = [
    [],
    [0x41],
    [0xc3, 0xbc],
    [0xc0, 0x80], // overlong
    [0xc1, 0xbf],
    [0xe0, 0x80, 0x80], // overlong
    [0xe0, 0xa0, 0x80],
    [0xed, 0x9f, 0xbf],
    [0xed, 0xa0, 0x80], // surrogate
    [0xef, 0xbf, 0xbd], // U+FFFD itself
    [0xf0, 0x8f, 0xbf, 0xbf], // overlong
    [0xf0, 0x9f, 0x98, 0x80],
    [0xf4, 0x8f, 0xbf, 0xbf],
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xe2, 0x82], // cut short
    [0x80],
  ].map((c) => new Uint8Array(c));
  let seed = 7;
  for (let i = 0; i < 20_000; i++) {
    const b = new Uint8Array(1 + (i % 6));
    for (let k = 0; k < b.length; k++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      // Mostly high bytes, where the rules are.
      b[k] = seed % 4 === 0 ? seed % 128 : 0x80 + (seed >>> 8) % 128;
    }
    cases.push(b);
  }
  for (const b of cases) assertEquals(isUtf8(b), decodes(b), `bytes ${[...b]}`);
});

Deno.test("decodeSpan() keeps the bytes only when they are not UTF-8", () => {
  const valid = new TextEncoder().encode("a \uFFFD b");
  assertEquals(decodeSpan(valid, 0, valid.length), { text: "a \uFFFD b", invalid: undefined });
  const bad = new Uint8Array([0x61, 0xff, 0x62]);
  assertEquals(decodeSpan(bad, 0, 3), { text: "a\uFFFDb", invalid: bad });
});
