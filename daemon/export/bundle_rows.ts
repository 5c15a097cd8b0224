/**
 * The rows of a bundle, gathered for the Merkle replay: every row's leaf hash is computed from
 * its rebuilt canonical JSON and put in its seq's slot, so that rows from all files end up in seq
 * order. Each misplaced row is named by file, row and seq as it is met: a seq outside the
 * bundle's range, one seen twice, rows out of seq order within a file, a row in the wrong
 * partition. A seq no row filled is found by `firstMissing()` afterwards. Memory: 36 bytes per
 * event of the bundle.
 */

import { canonicalJson } from "../event/canonical.ts";
import type { AuditEvent } from "../event/model.ts";
import { HASH_SIZE, leafHashInto } from "../store/merkle.ts";
import type { BundleFile } from "./manifest.ts";
import { readParquetEventBatches, readParquetFooter } from "./parquet.ts";
import { decodeParquetMeta } from "./parquet_meta.ts";
import { utcDate } from "./partition.ts";

const encoder = new TextEncoder();
const US_PER_DAY = 86_400_000_000;

/** Leaf hashes of seqs [from, to), filled in file by file. */
export class LeafTable {
  readonly from: number;
  readonly to: number;
  /** Leaf hash of seq s at (s - from) · 32. */
  readonly leaves: Uint8Array;
  /** 1 + index of the file that held seq s, 0 while none has. */
  readonly #owner: Int32Array;
  #text = new Uint8Array(4096);

  constructor(from: number, to: number) {
    if (to - from > 2 ** 31 / HASH_SIZE) {
      throw new RangeError(`Cannot verify a bundle of ${to - from} events in one go: too many`);
    }
    this.from = from;
    this.to = to;
    this.leaves = new Uint8Array((to - from) * HASH_SIZE);
    this.#owner = new Int32Array(to - from);
  }

  /**
   * Reads one file's rows into the table. Returns the first problem with a row, named by file,
   * row and seq, or undefined; unreadable Parquet is a problem too.
   */
  async addFile(
    bytes: Uint8Array,
    file: BundleFile,
    fileIndex: number,
    files: readonly BundleFile[],
  ): Promise<string | undefined> {
    let problem: string | undefined;
    let row = 0, prev = -1;
    const day = Date.parse(`${file.date}T00:00:00Z`) / 86_400_000;
    try {
      const footer = decodeParquetMeta((await readParquetFooter(bytes)).keyValue);
      if (
        !footer || footer.firstSeq !== file.first_seq || footer.lastSeq !== file.last_seq ||
        footer.rows !== file.rows || footer.leaves.from !== this.from ||
        footer.leaves.to !== this.to
      ) {
        problem =
          `${file.path}: its Parquet metadata does not describe the rows the manifest lists`;
      }
      for await (const batch of readParquetEventBatches(bytes)) {
        for (const ev of batch) {
          problem ??= this.#addRow(ev, { file, fileIndex, files, row, prev, day });
          prev = ev.seq;
          row++;
        }
      }
    } catch (e) {
      return `${file.path}: cannot read its rows after row ${row}: ${(e as Error).message}`;
    }
    if (problem) return problem;
    if (row !== file.rows) return `${file.path} has ${row} rows; the manifest lists ${file.rows}`;
    if (prev !== file.last_seq) {
      return `${file.path} ends at seq ${prev}; the manifest says ${file.last_seq}`;
    }
    return undefined;
  }

  /** The smallest seq of the range that no file held, if any. */
  firstMissing(): number | undefined {
    const i = this.#owner.indexOf(0);
    return i < 0 ? undefined : this.from + i;
  }

  #addRow(
    ev: AuditEvent,
    at: {
      file: BundleFile;
      fileIndex: number;
      files: readonly BundleFile[];
      row: number;
      prev: number;
      /** The file's UTC day, as days since the epoch. */
      day: number;
    },
  ): string | undefined {
    const { file, row } = at;
    const seq = ev.seq;
    const where = `${file.path} row ${row} (seq ${seq})`;
    if (!Number.isSafeInteger(seq) || seq < this.from || seq >= this.to) {
      return `${where}: seq is outside the bundle's range ${this.from} to ${this.to - 1}`;
    }
    const slot = seq - this.from;
    const owner = this.#owner[slot]!;
    if (owner !== 0) {
      return `${where}: seq ${seq} is also in ${at.files[owner - 1]!.path}; a row was added`;
    }
    // Kept even when misplaced below, so that the replay can still say what else is wrong.
    this.#owner[slot] = at.fileIndex + 1;
    this.#leaf(canonicalJson(ev), slot);
    if (row > 0 && seq <= at.prev) {
      return `${where}: comes after seq ${at.prev}; rows are out of seq order`;
    }
    if (row === 0 && seq !== file.first_seq) {
      return `${where}: the manifest says the file starts at seq ${file.first_seq}`;
    }
    if (ev.source !== file.source || Math.floor(ev.ts / US_PER_DAY) !== at.day) {
      return `${where}: source ${JSON.stringify(ev.source)} on ${utcDate(ev.ts)} does not ` +
        `belong in this file's partition`;
    }
    return undefined;
  }

  #leaf(json: string, slot: number): void {
    // Room for the worst case (3 bytes per UTF-16 unit) makes one encodeInto always enough.
    if (this.#text.length < json.length * 3) this.#text = new Uint8Array(json.length * 3);
    const n = encoder.encodeInto(json, this.#text).written;
    leafHashInto(this.#text.subarray(0, n), this.leaves, slot * HASH_SIZE);
  }
}
