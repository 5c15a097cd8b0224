/**
 * Sorting a run of the log into partitions on disk. Events arrive in seq order with sources and
 * days interleaved, while each Parquet file holds one partition: rather than keep every
 * partition's events in memory until the run ends, each is appended, as its canonical JSON lines,
 * to a spool file, and read back a batch at a time when its Parquet file is written. Memory stays
 * at a buffer per partition however long the run.
 */

import { hex } from "../store/keys.ts";
import type { AuditEvent } from "../event/model.ts";
import { type Partition, partitionDir, partitionOf } from "./partition.ts";

/** What is known of one partition's events once spooled. */
export interface SpooledPartition extends Partition {
  /** Relative directory, `source=…/date=…`. */
  dir: string;
  rows: number;
  firstSeq: number;
  lastSeq: number;
  /** Chain hash (hex) before the first event and after the last. */
  chainBefore: string;
  chainAfter: string;
  /** The spool file of canonical JSON lines. */
  file: string;
}

/** Bytes buffered per partition before they are appended to its file. */
const FLUSH_BYTES = 1 << 20;
const US_PER_DAY = 86_400_000_000;
const encoder = new TextEncoder();

interface Part {
  info: SpooledPartition;
  /** Chain hashes kept as bytes and turned into hex once, at the end. */
  before: Uint8Array;
  after: Uint8Array;
  buffer: string[];
  bytes: number;
}

/** Spool files of one export, in a directory of their own. */
export class PartitionSpool {
  readonly #dir: string;
  /** By source, then by UTC day number: no key string is built per event. */
  #parts = new Map<string, Map<number, Part>>();
  #count = 0;
  #full: Part[] = [];

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Appends one event (its canonical JSON) to its partition, with the chain hashes before and
   * after it (kept, not copied). Events must come in seq order. Returns true when a buffer is
   * full: call `flush()` then. Synchronous, as it runs once per exported event.
   */
  add(
    ev: { seq: number; ts: number; source: string },
    json: string,
    chains: { before: Uint8Array; after: Uint8Array },
  ): boolean {
    const day = Math.floor(ev.ts / US_PER_DAY);
    let bySource = this.#parts.get(ev.source);
    if (!bySource) this.#parts.set(ev.source, bySource = new Map());
    let part = bySource.get(day);
    if (!part) {
      const p = partitionOf(ev);
      const info: SpooledPartition = {
        ...p,
        dir: partitionDir(p),
        rows: 0,
        firstSeq: ev.seq,
        lastSeq: ev.seq,
        chainBefore: "",
        chainAfter: "",
        file: `${this.#dir}/${this.#count++}.jsonl`,
      };
      part = { info, before: chains.before, after: chains.after, buffer: [], bytes: 0 };
      bySource.set(day, part);
    }
    part.info.rows++;
    part.info.lastSeq = ev.seq;
    part.after = chains.after;
    part.buffer.push(json);
    part.bytes += json.length + 1;
    if (part.bytes < FLUSH_BYTES) return false;
    this.#full.push(part);
    return true;
  }

  /** Appends the full buffers to their files. */
  async flush(): Promise<void> {
    for (const part of this.#full.splice(0)) await this.#flush(part);
  }

  /** Writes out what is buffered; returns the partitions in path order. */
  async finish(): Promise<SpooledPartition[]> {
    const parts = [...this.#parts.values()].flatMap((bySource) => [...bySource.values()]);
    for (const part of parts) {
      await this.#flush(part);
      part.info.chainBefore = hex(part.before);
      part.info.chainAfter = hex(part.after);
    }
    return parts.map((p) => p.info).sort((a, b) => a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0);
  }

  async #flush(part: Part): Promise<void> {
    if (part.buffer.length === 0) return;
    const text = part.buffer.join("\n") + "\n";
    await Deno.writeFile(part.info.file, encoder.encode(text), { append: true });
    part.buffer = [];
    part.bytes = 0;
  }
}

/** The events of a spool file, `batchRows` at a time, in the order they were added. */
export async function* spooledEvents(
  file: string,
  batchRows: number,
): AsyncGenerator<AuditEvent[]> {
  using f = await Deno.open(file, { read: true });
  const decoder = new TextDecoder();
  let carry = "";
  let batch: AuditEvent[] = [];
  const chunk = new Uint8Array(1 << 20);
  for (;;) {
    const n = await f.read(chunk);
    if (n === null) break;
    const text = carry + decoder.decode(chunk.subarray(0, n), { stream: true });
    const lines = text.split("\n");
    carry = lines.pop()!;
    for (const line of lines) {
      batch.push(JSON.parse(line)); // canonical JSON this module wrote from the log
      if (batch.length === batchRows) {
        yield batch;
        batch = [];
      }
    }
  }
  if (carry + decoder.decode() !== "") {
    throw new SyntaxError(`Cannot read spool file ${file}: it ends inside a line`);
  }
  if (batch.length > 0) yield batch;
}
