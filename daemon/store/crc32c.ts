/**
 * CRC-32C (Castagnoli), the checksum of every framed record: it tells a torn or bit-rotted
 * frame from a whole one before any hashing. Slice-by-8 tables; no allocation per call.
 */

const POLY = 0x82f63b78;
const T = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n]!;
  for (let t = 1; t < 8; t++) {
    c = T[c & 0xff]! ^ (c >>> 8);
    T[t * 256 + n] = c;
  }
}

/** CRC-32C of `data[start .. end)`, as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array, start = 0, end: number = data.length): number {
  let crc = ~0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    crc = T[7 * 256 + (a & 0xff)]! ^ T[6 * 256 + ((a >>> 8) & 0xff)]! ^
      T[5 * 256 + ((a >>> 16) & 0xff)]! ^ T[4 * 256 + (a >>> 24)]! ^
      T[3 * 256 + data[i + 4]!]! ^ T[2 * 256 + data[i + 5]!]! ^
      T[256 + data[i + 6]!]! ^ T[data[i + 7]!]!;
  }
  for (; i < end; i++) crc = T[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
