/**
 * Reading events back from the log, in seq order, from any seq: the source of truth for
 * `reindex`, for queries that reach past the index, for proofs and for exports. Read-only and
 * safe while a writer appends (it stops at a group still being written).
 */

import { checkDataFormat } from "./format.ts";
import { decodeEventText } from "../event/canonical.ts";
import type { AuditEvent } from "../event/model.ts";
import { StoreDamageError } from "./errors.ts";
import {
  CHAIN_SIZE,
  FRAME_COMMIT,
  FRAME_EVENT,
  FRAME_SEAL,
  HEADER_SIZE,
  scanFrames,
} from "./frame.ts";
import { listSegments, loadSegment, SegmentBuffer } from "./segment_file.ts";
import { storePaths } from "./store_open.ts";

/** One event as read from the log. */
export interface LogRecord {
  seq: number;
  event: AuditEvent;
  /** The canonical JSON text (the Merkle leaf data). */
  json: string;
  /** Chain hash after this event. */
  chain: Uint8Array;
}

/**
 * Yields events with seq ≥ `fromSeq` (default 0) up to `toSeq` (exclusive, default: the end).
 * Reads one segment at a time, each into the same memory (every record yielded is a copy);
 * damage that the writer could not have left throws
 * StoreDamageError with its place (run `vigil verify` for the whole picture).
 */
export async function* readLog(
  dataDir: string,
  opts: { fromSeq?: number; toSeq?: number } = {},
): AsyncGenerator<LogRecord> {
  const from = opts.fromSeq ?? 0;
  const to = opts.toSeq ?? Infinity;
  await checkDataFormat(dataDir);
  const segments = await listSegments(storePaths(dataDir).segments);
  const buffer = new SegmentBuffer();
  for (let i = 0; i < segments.length; i++) {
    const next = segments[i + 1];
    if (next && next.firstSeq <= from) continue;
    if (segments[i]!.firstSeq >= to) return;
    const seg = await loadSegment(segments[i]!, { buffer });
    // Where the wanted events are (payload offset, length, seq), not the events: decoding them
    // one at a time as they are taken keeps a segment's worth of objects out of memory.
    const found: number[] = [];
    // Events of a group count once its commit frame is read: a group still being written, or
    // cut short by a crash, is not part of the log (`frame.ts`).
    let committedLength = 0;
    let committed = false;
    let seq = seg.header.firstSeq;
    let groupSeq = seq;
    const stop = scanFrames(seg.bytes, HEADER_SIZE, seg.bytes.length, (f) => {
      if (f.type === FRAME_COMMIT || f.type === FRAME_SEAL) {
        committed = true;
        committedLength = found.length;
        groupSeq = seq;
        return;
      }
      if (f.type !== FRAME_EVENT) return;
      const s = seq++;
      if (s < from || s >= to) return;
      found.push(f.payload, f.length, s);
    });
    if (stop.kind === "bad" && next) {
      throw new StoreDamageError(stop.reason, { segment: seg.entry.name, offset: stop.offset });
    }
    // Without any commit frame the segment predates them: every record stands alone.
    const end = committed ? committedLength : found.length;
    if (committed) seq = groupSeq;
    for (let k = 0; k < end; k += 3) {
      const payload = found[k]!;
      const body = seg.bytes.subarray(payload + CHAIN_SIZE + 1, payload + found[k + 1]!);
      const { event, json } = decodeEventText(body);
      yield {
        seq: found[k + 2]!,
        event,
        json,
        chain: seg.bytes.slice(payload, payload + CHAIN_SIZE),
      };
    }
    if (seq >= to) return;
  }
}
