/**
 * A sealed segment's bytes compressed whole, in memory: the oracle the tests hold the daemon's
 * compressor (`daemon/store/compress_file.ts`, a window and a block at a time) and the format
 * (`segment_compress.ts`) to. Built from the same format pieces, planned over the whole segment at
 * once; the daemon itself no longer compresses this way.
 */

import { HEADER_SIZE } from "../../daemon/store/frame.ts";
import {
  BlockPlanner,
  compressBlock,
  encodeTable,
  plannedTimes,
} from "../../daemon/store/segment_compress.ts";

/** The compressed form of the sealed segment bytes `raw`, whose first record has `firstSeq`. */
export function compressSegmentBytes(raw: Uint8Array, firstSeq: number): Uint8Array {
  const planner = new BlockPlanner(raw, firstSeq);
  planner.scan(raw, 0, HEADER_SIZE);
  const plan = planner.end(raw.length);
  const parts: Uint8Array[] = [];
  for (const b of plan) {
    const bytes = raw.subarray(b.start, b.end);
    b.times = plannedTimes(b, bytes);
    parts.push(compressBlock(bytes));
  }
  const table = encodeTable(raw.length, plan, parts.map((p) => p.length));
  const out = new Uint8Array(table.length + parts.reduce((a, p) => a + p.length, 0));
  out.set(table, 0);
  let at = table.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
