/**
 * A `Tailer` over a temp dir the test writes log files into, with a clock the test moves (the
 * grace period of rotated files is about time, and tests must not wait for it), and a sink
 * that keeps what came out: each record's statement (or problem) and the file it came from.
 */

import { lineAfter } from "../../../plugins/pgaudit/decoder.ts";
import { logEvent } from "../../../plugins/pgaudit/events.ts";
import { compileGlob } from "../../../plugins/pgaudit/glob.ts";
import type { RecordSink } from "../../../plugins/pgaudit/tail_file.ts";
import {
  decodePosition,
  encodePosition,
  type FileEntry,
} from "../../../plugins/pgaudit/tail_position.ts";
import { Tailer } from "../../../plugins/pgaudit/tailer.ts";
import { auditMessage, csvRow } from "./_build.ts";

/** One record as the sink saw it. */
export interface Seen {
  /** The statement of its event, or its problem when it was bad. */
  what: string;
  bad: boolean;
  file: string;
  hash: string;
  offset: number;
}

/** A tailer and what it handed on. */
export interface TailHarness {
  tailer: Tailer;
  seen: Seen[];
  gone: FileEntry[];
  /** The clock (ms) the tailer reads; tests move it. */
  clock: { now: number };
  /** Polls until a poll finds nothing more, at least `rounds` times. */
  poll(rounds?: number): Promise<void>;
  /** Statements seen so far (bad records as `BAD: problem`). */
  statements(): string[];
  position(): string;
}

/** A tailer of `glob` (a path with a file-name pattern), starting from `position`. */
export function tailHarness(
  glob: string,
  opts: { position?: string; currentLogfiles?: string; graceMs?: number } = {},
): TailHarness {
  const seen: Seen[] = [];
  const gone: FileEntry[] = [];
  const clock = { now: 1_000_000 };
  const state = decodePosition(opts.position);
  const tailer = new Tailer(state, {
    glob: compileGlob(glob),
    format: "csvlog",
    decoder: { format: "csvlog" },
    currentLogfiles: opts.currentLogfiles,
    graceMs: opts.graceMs ?? 1000,
    now: () => clock.now,
    onGone: (e) => {
      gone.push({ ...e });
      return Promise.resolve();
    },
  });
  const sink: RecordSink = (tf, records) => {
    for (const r of records) {
      const ev = logEvent(r, { source: "t" })?.event;
      const bad = r.problem !== undefined;
      seen.push({
        what: bad ? `BAD: ${r.text}` : ev?.statement ?? "",
        bad,
        file: tf.path,
        hash: tf.entry.hash,
        offset: r.offset,
      });
      tf.entry.offset = r.offset;
      tf.entry.line = lineAfter(r);
    }
    return Promise.resolve();
  };
  return {
    tailer,
    seen,
    gone,
    clock,
    async poll(rounds = 2) {
      for (let i = 0; i < rounds; i++) {
        while (await tailer.poll(sink)) { /* a file had more than one read's share */ }
      }
    },
    statements: () => seen.map((s) => s.what),
    position: () => encodePosition(state),
  };
}

/** csvlog rows of pgAudit lines `SELECT '<tag>-<i>'` for i in [from, to). */
export function auditRows(tag: string, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) {
    const ms = String(i % 1000).padStart(3, "0");
    text += csvRow({
      time: `2026-11-23 18:${String(Math.floor(i / 60) % 60).padStart(2, "0")}:${
        String(i % 60).padStart(2, "0")
      }.${ms} UTC`,
      session: `${tag}.1`,
      line: i,
      message: auditMessage(`SELECT '${tag}-${i}'`),
    });
  }
  return text;
}

/** The statements `auditRows(tag, from, to)` stands for. */
export function statementsOf(tag: string, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, k) => `SELECT '${tag}-${from + k}'`);
}

/** Appends text to a file (creating it). */
export async function append(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { append: true });
}
