/**
 * Reading events back from the log, in seq order, from any seq: the source of truth for
 * `reindex`, for queries that reach past the index, for proofs and for exports. Read-only and
 * safe while a writer appends (it stops at a group still being written).
 */

import { checkDataFormat } from "./format.ts";
import { decodeEvent } from "../event/canonical.ts";
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
import { listSegments, loadSegment } from "./segment_file.ts";
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

const decoder = new TextDecoder();

/**
 * Yields events with seq ≥ `fromSeq` (default 0) up to `toSeq` (exclusive, default: the end).
 * Reads one segment at a time; damage that the writer could not have left throws
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
  for (let i = 0; i < segments.length; i++) {
    const next = segments[i + 1];
    if (next && next.firstSeq <= from) continue;
    if (segments[i]!.firstSeq >= to) return;
    const seg = await loadSegment(segments[i]!);
    let out: LogRecord[] = [];
    // Events of a group count once its commit frame is read: a group still being written, or
    // cut short by a crash, is not part of the log (`frame.ts`).
    let group: LogRecord[] = [];
    let committed = false;
    let seq = seg.header.firstSeq;
    let groupSeq = seq;
    const stop = scanFrames(seg.bytes, HEADER_SIZE, seg.bytes.length, (f) => {
      if (f.type === FRAME_COMMIT || f.type === FRAME_SEAL) {
        committed = true;
        out = out.concat(group);
        group = [];
        groupSeq = seq;
        return;
      }
      if (f.type !== FRAME_EVENT) return;
      const s = seq++;
      if (s < from || s >= to) return;
      const body = seg.bytes.subarray(f.payload + CHAIN_SIZE + 1, f.payload + f.length);
      const json = decoder.decode(body);
      group.push({
        seq: s,
        event: decodeEvent(body),
        json,
        chain: seg.bytes.slice(f.payload, f.payload + CHAIN_SIZE),
      });
    });
    if (stop.kind === "bad" && next) {
      throw new StoreDamageError(stop.reason, { segment: seg.entry.name, offset: stop.offset });
    }
    // Without any commit frame the segment predates them: every record stands alone.
    if (!committed) out = out.concat(group);
    else seq = groupSeq;
    yield* out;
    if (seq >= to) return;
  }
}
