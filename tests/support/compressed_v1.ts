/**
 * A compressed segment as a release before block time spans wrote it (`VIGILSZ1`: block entries
 * of 64 bytes, no span), made from one of today's: for tests that a store of the previous format
 * still reads, exports and verifies.
 */

import { crc32c } from "../../daemon/store/crc32c.ts";
import { decodeBlockTable } from "../../daemon/store/segment_compress.ts";

/** Rewrites the compressed segment at `path` in the first version's layout. */
export async function downgradeToV1(path: string): Promise<void> {
  const file = await Deno.readFile(path);
  const { rawSize, blocks } = decodeBlockTable(file);
  const oldHead = blocks[0]!.compOffset;
  const head = 20 + blocks.length * 64 + 4;
  const body = file.subarray(oldHead);
  const out = new Uint8Array(head + body.length);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode("VIGILSZ1"), 0);
  dv.setBigUint64(8, BigInt(rawSize));
  dv.setUint32(16, blocks.length);
  blocks.forEach((b, i) => {
    const at = 20 + i * 64;
    dv.setBigUint64(at, BigInt(b.rawOffset));
    dv.setBigUint64(at + 8, BigInt(b.compOffset - oldHead + head));
    dv.setUint32(at + 16, b.rawLength);
    dv.setUint32(at + 20, b.compLength);
    dv.setBigUint64(at + 24, BigInt(b.firstSeq));
    out.set(b.prevChain, at + 32);
  });
  dv.setUint32(head - 4, crc32c(out, 0, head - 4));
  out.set(body, head);
  await Deno.chmod(path, 0o644);
  await Deno.writeFile(path, out);
  await Deno.chmod(path, 0o444);
}
