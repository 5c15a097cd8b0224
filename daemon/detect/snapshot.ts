/**
 * The detection snapshot: the engine's whole learned state at one seq, kept in the data
 * directory as `detect-state.jsonl` so that `vigil serve` resumes detection from there instead
 * of replaying the log. Derived state like the search index: delete it and the daemon rebuilds
 * it from the log.
 *
 * Layout: JSON lines. The first is the header (format, version, the seq covered, the detection
 * config's fingerprint, the alert store's lineage, a digest of the event at that seq); then one
 * line per part of the state (`DetectEngine.saveState`); the last is `{"t":"end","lines":N,
 * "sha256":…}` over every byte before it. Promises: a file is written whole or not at all
 * (temporary file, fsync, rename, directory fsync), and `readSnapshot` tells a missing file
 * from a damaged one — truncated, a flipped byte, not JSON — and never hands out a state whose
 * checksum does not match. Whether a sound snapshot still fits (version, config, alerts, log) is
 * the caller's judgement, from the header.
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { log } from "../log.ts";
import type { DetectConfig } from "./config.ts";

/** File name of the snapshot inside the data directory. */
export const SNAPSHOT_FILE = "detect-state.jsonl";
const FORMAT = "vigil-detect-state";
/**
 * Version of what the engine keeps and how it decides. Bump it with any change to the state's
 * shape or to a detector's judgement: older snapshots are then rebuilt from the log.
 */
export const STATE_VERSION = 1;
/** Bytes of text encoded (and hashed) at a time while writing. */
const CHUNK_CHARS = 1 << 20;

/** The first line of a snapshot. */
export interface SnapshotHeader {
  format: string;
  version: number;
  /** The last seq the state has taken in. */
  seq: number;
  /** `configFingerprint` of the config the state was learned with. */
  config: string;
  /** The alert store's lineage when written (`META_LINEAGE`). */
  lineage: string;
  /** `eventDigest` of the event at `seq`: ties the state to this log, not another. */
  last: string;
  /** Wall time written, RFC 3339, for people. */
  written: string;
}

/** What reading the snapshot found. */
export type SnapshotRead =
  | { kind: "missing" }
  | { kind: "damaged"; why: string }
  /** `lines()` parses the state lines one by one; a line that is not JSON throws SyntaxError. */
  | { kind: "ok"; header: SnapshotHeader; lines: () => Iterable<unknown> };

/** Path of the snapshot of a data directory. */
export function snapshotPath(dataDir: string): string {
  return join(dataDir, SNAPSHOT_FILE);
}

/** A header for the state at `seq`, stamped with this format and version. */
export function snapshotHeader(
  h: Pick<SnapshotHeader, "seq" | "config" | "lineage" | "last">,
  nowMs: number = Date.now(),
): SnapshotHeader {
  return { format: FORMAT, version: STATE_VERSION, ...h, written: new Date(nowMs).toISOString() };
}

/** Whether `h` is of this format and version. */
export function isCurrentVersion(h: SnapshotHeader): boolean {
  return h.format === FORMAT && h.version === STATE_VERSION;
}

/** JSON with object keys sorted: the same config gives the same text whatever its key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/**
 * A digest of everything in the config that changes what detection learns or finds; the
 * channels (where alerts go) are left out, so moving a webhook costs no rebuild.
 */
export function configFingerprint(cfg: DetectConfig): string {
  const { channels: _, ...judged } = cfg;
  return createHash("sha256").update(canonical(judged)).digest("hex");
}

/** A digest of one event's canonical JSON. */
export function eventDigest(json: string): string {
  return createHash("sha256").update(json).digest("hex");
}

/**
 * The bytes of a snapshot, made in one synchronous pass over `lines` (so that they are the
 * state of one instant, whatever is fed after) — hand them to `writeSnapshot`.
 */
export function encodeSnapshot(header: SnapshotHeader, lines: readonly unknown[]): Uint8Array[] {
  const enc = new TextEncoder();
  const hash = createHash("sha256");
  const chunks: Uint8Array[] = [];
  let text = JSON.stringify(header) + "\n";
  const put = (): void => {
    const bytes = enc.encode(text);
    hash.update(bytes);
    chunks.push(bytes);
    text = "";
  };
  for (const line of lines) {
    text += JSON.stringify(line) + "\n";
    if (text.length >= CHUNK_CHARS) put();
  }
  put();
  const end = { t: "end", lines: lines.length, sha256: hash.digest("hex") };
  chunks.push(enc.encode(JSON.stringify(end) + "\n"));
  return chunks;
}

/** Writes the snapshot atomically; returns its size in bytes. */
export async function writeSnapshot(
  dataDir: string,
  chunks: readonly Uint8Array[],
): Promise<number> {
  const path = snapshotPath(dataDir);
  const tmp = `${path}.tmp`;
  let size = 0;
  try {
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      for (const c of chunks) {
        for (let off = 0; off < c.length;) off += await f.write(c.subarray(off));
        size += c.length;
      }
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot write the detection snapshot ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // The rename is durable only once the directory is.
  const d = await Deno.open(dataDir, { read: true });
  try {
    await d.sync();
  } finally {
    d.close();
  }
  return size;
}

/** Reads and checks the snapshot of `dataDir`. */
export async function readSnapshot(dataDir: string): Promise<SnapshotRead> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(snapshotPath(dataDir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
    return { kind: "damaged", why: `unreadable: ${(error as Error).message}` };
  }
  const NL = 0x0a;
  if (bytes.length === 0 || bytes[bytes.length - 1] !== NL) {
    return { kind: "damaged", why: "it does not end with its end line (cut short?)" };
  }
  const endStart = bytes.lastIndexOf(NL, bytes.length - 2) + 1;
  const dec = new TextDecoder("utf-8", { fatal: true });
  let end: { t?: unknown; lines?: unknown; sha256?: unknown };
  try {
    end = JSON.parse(dec.decode(bytes.subarray(endStart)));
  } catch {
    return { kind: "damaged", why: "its last line is not the end line (cut short?)" };
  }
  if (end?.t !== "end" || typeof end.sha256 !== "string") {
    return { kind: "damaged", why: "its last line is not the end line (cut short?)" };
  }
  const body = bytes.subarray(0, endStart);
  const digest = createHash("sha256").update(body).digest("hex");
  if (digest !== end.sha256) {
    return { kind: "damaged", why: `checksum ${digest} is not the recorded ${end.sha256}` };
  }
  // Lines are decoded one at a time as the loader asks: the file's text never sits in memory
  // beside its bytes and the state made of it.
  const starts: number[] = [0];
  for (let i = body.indexOf(NL); i !== -1 && i + 1 < body.length; i = body.indexOf(NL, i + 1)) {
    starts.push(i + 1);
  }
  const line = (i: number): unknown =>
    JSON.parse(dec.decode(body.subarray(starts[i]!, (starts[i + 1] ?? body.length) - 1)));
  let header: SnapshotHeader;
  try {
    header = line(0) as SnapshotHeader;
  } catch (error) {
    return { kind: "damaged", why: `its header cannot be read: ${(error as Error).message}` };
  }
  if (typeof header?.seq !== "number" || starts.length - 1 !== end.lines) {
    return { kind: "damaged", why: "its header or line count does not add up" };
  }
  return {
    kind: "ok",
    header,
    *lines() {
      for (let i = 1; i < starts.length; i++) yield line(i);
    },
  };
}

/** Writes a data directory's snapshots one at a time; remembers the last one and any failure. */
export class SnapshotWriter {
  readonly #dataDir: string;
  readonly #now: () => number;
  #writing: Promise<void> | null = null;
  /** The last snapshot written (or loaded): its seq and wall time (ms). */
  last: { seq: number; at: number } | null = null;
  /** Why the last attempt failed; null after a good one. */
  error: string | null = null;

  constructor(dataDir: string, now: () => number = Date.now) {
    this.#dataDir = dataDir;
    this.#now = now;
  }

  /**
   * Writes the state `make` returns, which must be that at `seq`, unless `seq` is written
   * already or a write is in flight (then that one is awaited). `make` runs at once, in the
   * caller's turn: the state of that instant, whatever is fed while the bytes go to disk.
   */
  write(
    seq: number,
    make: () => { header: SnapshotHeader; lines: readonly unknown[] },
  ): Promise<void> {
    if (this.#writing !== null) return this.#writing;
    if (seq === this.last?.seq) return Promise.resolve();
    let chunks: Uint8Array[];
    try {
      const { header, lines } = make();
      chunks = encodeSnapshot(header, lines);
    } catch (error) {
      this.error = `snapshot not made: ${(error as Error)?.message ?? error}`;
      return Promise.resolve();
    }
    this.#writing = writeSnapshot(this.#dataDir, chunks).then(
      (bytes) => {
        this.last = { seq, at: this.#now() };
        this.error = null;
        log("debug", "detection snapshot written", { seq, bytes });
      },
      (error) => {
        this.error = String((error as Error)?.message ?? error);
        log("warn", "detection snapshot not written; the next start reads more of the log", {
          error: this.error,
        });
      },
    ).finally(() => (this.#writing = null));
    return this.#writing;
  }

  /** Resolves once no write is in flight. */
  async settled(): Promise<void> {
    await this.#writing;
  }
}
