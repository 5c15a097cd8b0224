/**
 * Framing a group of batches for the store's write path: each event's canonical JSON, each
 * position record and the commit record that ends the group, with its length and type, into
 * one slot's shared memory, so that the hash Worker adds chain hashes and CRCs in place
 * (`hasher.ts`) and the writer writes the bytes as they are. Several slots let one group be framed while earlier ones are hashed and written.
 */

import { canonicalEvent } from "../event/canonical.ts";
import {
  CHAIN_SIZE,
  commitBody,
  FRAME_COMMIT,
  FRAME_EVENT,
  FRAME_OVERHEAD,
  FRAME_POSITION,
  MAX_PAYLOAD,
} from "./frame.ts";
import type { AppendBatch, AppendResult, DurableRecord } from "./append.ts";

/** A batch waiting to be stored, with its caller's promise. */
export interface Pending {
  batch: AppendBatch;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** A group of batches framed (lengths and bodies) in shared memory, waiting for its hashes. */
export interface Encoded {
  group: Pending[];
  bytes: Uint8Array;
  frames: Int32Array;
  frameCount: number;
  nextSeq: number;
  positions: Map<string, string>;
  records: DurableRecord[];
  results: AppendResult[];
  leafCount: number;
  /** Write-failure epoch the group was hashed in: a later failure invalidates it. */
  epoch: number;
}

const encoder = new TextEncoder();

function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/**
 * Takes the next group off `queue`: every waiting batch, up to about `maxEvents` events (and at
 * least one batch), so that a deep queue flows through the write stages as several groups
 * instead of one big serial one.
 */
export function takeGroup(queue: Pending[], maxEvents: number): Pending[] {
  let events = 0;
  let n = 0;
  while (n < queue.length && (n === 0 || events < maxEvents)) {
    events += queue[n]!.batch.events.length;
    n++;
  }
  return queue.splice(0, n);
}

/** The slots' shared buffers and frame offsets, grown as groups need. */
export class GroupFramer {
  #bufs: Uint8Array[];
  #frames: Int32Array[];

  constructor(slots: number) {
    this.#bufs = Array.from({ length: slots }, () => sharedBytes(1 << 20));
    this.#frames = Array.from(
      { length: slots },
      () => new Int32Array(new SharedArrayBuffer(4 * 8192)),
    );
  }

  /** The bytes of `slot` as the last `frame` left them (it may have grown the buffer). */
  buffer(slot: number): Uint8Array {
    return this.#bufs[slot]!;
  }

  /** The frame offsets of `slot`. */
  frames(slot: number): Int32Array {
    return this.#frames[slot]!;
  }

  #grow(slot: number, bytes: number): Uint8Array {
    const buf = this.#bufs[slot]!;
    if (bytes <= buf.length) return buf;
    const next = sharedBytes(Math.max(bytes, buf.length * 2));
    next.set(buf);
    this.#bufs[slot] = next;
    return next;
  }

  #addFrame(slot: number, i: number, off: number): void {
    let frames = this.#frames[slot]!;
    if (i >= frames.length) {
      const grown = new Int32Array(new SharedArrayBuffer(frames.length * 8));
      grown.set(frames);
      this.#frames[slot] = frames = grown;
    }
    frames[i] = off;
  }

  /** Frames a record that is not an event at `off` of `slot`; returns the offset after it. */
  #record(slot: number, index: number, off: number, type: number, body: Uint8Array): number {
    const len = CHAIN_SIZE + 1 + body.length;
    const buf = this.#grow(slot, off + FRAME_OVERHEAD + len);
    buf[off + FRAME_OVERHEAD + CHAIN_SIZE] = type;
    buf.set(body, off + FRAME_OVERHEAD + CHAIN_SIZE + 1);
    new DataView(buf.buffer).setUint32(off, len);
    this.#addFrame(slot, index, off);
    return off + FRAME_OVERHEAD + len;
  }

  /**
   * Frames `group` into `slot`, its first event taking seq `firstSeq`: lengths, types and
   * bodies; the hasher adds chains and CRCs. A batch that cannot be framed is rejected alone.
   * Null when no batch of the group could be framed.
   */
  frame(
    group: Pending[],
    slot: number,
    at: { firstSeq: number; epoch: number; signed: number },
  ): Encoded | null {
    const { firstSeq, epoch } = at;
    let seq = firstSeq;
    let off = 0;
    let nFrames = 0;
    const nowUs = Date.now() * 1000;
    const records: DurableRecord[] = [];
    const results: AppendResult[] = [];
    const positions = new Map<string, string>();
    let buf = this.#bufs[slot]!;
    const kept: Pending[] = [];
    for (const pending of group) {
      const { batch } = pending;
      // A batch that cannot be framed is refused alone; the batches around it still go.
      const undo = { seq, off, nFrames, records: records.length };
      const firstSeq = seq;
      try {
        for (const ne of batch.events) {
          // Built in canonical key order, so its plain JSON text is the canonical encoding.
          const event = canonicalEvent(ne, seq, nowUs);
          const json = JSON.stringify(event);
          buf = this.#grow(slot, off + FRAME_OVERHEAD + CHAIN_SIZE + 1 + json.length * 3);
          const p = off + FRAME_OVERHEAD;
          buf[p + CHAIN_SIZE] = FRAME_EVENT;
          const n = encoder.encodeInto(json, buf.subarray(p + CHAIN_SIZE + 1)).written;
          const len = CHAIN_SIZE + 1 + n;
          if (len > MAX_PAYLOAD) {
            throw new RangeError(
              `event of ${n} bytes from source ${batch.source} is over the limit`,
            );
          }
          buf[off] = len >>> 24;
          buf[off + 1] = len >>> 16;
          buf[off + 2] = len >>> 8;
          buf[off + 3] = len;
          this.#addFrame(slot, nFrames++, off);
          off = p + len;
          records.push({ seq, event, json });
          seq++;
        }
      } catch (e) {
        ({ seq, off, nFrames } = undo);
        records.length = undo.records;
        pending.reject(e);
        continue;
      }
      if (batch.position !== undefined) {
        const body = JSON.stringify({ source: batch.source, pos: batch.position, next_seq: seq });
        off = this.#record(slot, nFrames++, off, FRAME_POSITION, encoder.encode(body));
        positions.set(batch.source, batch.position);
      }
      kept.push(pending);
      results.push({ firstSeq, count: seq - firstSeq });
    }
    if (kept.length === 0) return null;
    // The commit frame: recovery keeps the group only if this made it to disk (`frame.ts`).
    off = this.#record(slot, nFrames++, off, FRAME_COMMIT, commitBody(seq, at.signed));
    buf = this.#bufs[slot]!;
    const leafCount = seq - firstSeq;
    return {
      group: kept,
      bytes: buf.subarray(0, off),
      frames: this.#frames[slot]!,
      frameCount: nFrames,
      nextSeq: seq,
      positions,
      records,
      results,
      leafCount,
      epoch,
    };
  }
}
