import zlib from "node:zlib";
import { zstdDecompressInto } from "../../../daemon/store/zstd_into.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

/** Bytes that compress well but not to nothing, as a segment's records do. */
function sample(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 5)) & 0xff;
  return out;
}

function frame(raw: Uint8Array): Uint8Array {
  return new Uint8Array(zlib.zstdCompressSync(raw, {
    params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 },
  }));
}

Deno.test("zstdDecompressInto() writes a frame's bytes at an offset, frame after frame", () => {
  const a = sample(300_000), b = sample(1024 * 1024).reverse();
  const out = new Uint8Array(8 + a.length + b.length + 8).fill(0xee);
  assert(zstdDecompressInto(frame(a), out, 8, a.length), "this runtime's zlib has the handle");
  assert(zstdDecompressInto(frame(b), out, 8 + a.length, b.length));
  assertEquals(out.subarray(8, 8 + a.length), a);
  assertEquals(out.subarray(8 + a.length, 8 + a.length + b.length), b);
  // Nothing is written outside the range asked for.
  assertEquals([...out.subarray(0, 8), ...out.subarray(out.length - 8)], Array(16).fill(0xee));
});

Deno.test("zstdDecompressInto() refuses a damaged frame, or one shorter or longer than asked, and works after", () => {
  const raw = sample(200_000);
  const good = frame(raw);
  const out = new Uint8Array(raw.length + 64);
  const flipped = good.slice();
  flipped[flipped.length >> 1]! ^= 0x5a;
  assertThrows(() => zstdDecompressInto(flipped, out, 0, raw.length));
  assertThrows(() => zstdDecompressInto(good, out, 0, raw.length + 1), { message: /holds 200000/ });
  assertThrows(() => zstdDecompressInto(good, out, 0, raw.length - 1), { message: /more than/ });
  assertThrows(() => zstdDecompressInto(good.subarray(0, good.length - 9), out, 0, raw.length));
  out.fill(0);
  assert(zstdDecompressInto(good, out, 0, raw.length));
  assertEquals(out.subarray(0, raw.length), raw);
});
