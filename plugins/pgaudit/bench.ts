/**
 * `vigil bench pgaudit [--bytes N]`: a generated csvlog of N bytes (default 1 GiB, realistic
 * rows from `bench_log.ts`) tailed, parsed, mapped, redacted and stored durably by the real
 * pgAudit source into a real store, from the first byte until the store's durable position
 * reaches the end of the file. Two references, measured in the same run on the same machine:
 *
 * - reading the same file and writing a copy with `fdatasync` after every 1 MiB read (what
 *   durable intake of these bytes costs with no parsing, mapping or hashing): MB/s;
 * - the store's own append rate of the same events (the first 500 000, mapped beforehand, in
 *   batches of the source's size with as many in flight): events/s. The parser is not the
 *   bottleneck when this ratio is high (goal ≥ 0.5).
 *
 * Prints one JSON object a line: `bench`, `value`, `unit`, `reference {name, value}`, `ratio`.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { compileRedaction, redactEvent } from "../../daemon/event/redact.ts";
import { intFlag, noRest, parseFlags } from "../../daemon/cli/args.ts";
import { print } from "../../daemon/log.ts";
import { runSource } from "../../daemon/pipeline.ts";
import { Store } from "../../daemon/store/store.ts";
import { writeBenchLog } from "./bench_log.ts";
import { createLogDecoder } from "./decoder.ts";
import { logEvent } from "./events.ts";
import { decodePosition } from "./tail_position.ts";
import { pgauditSource } from "./mod.ts";

/** One result line. */
export interface PgauditBenchResult {
  bench: string;
  value: number;
  unit: string;
  reference?: { name: string; value: number };
  ratio?: number;
  [extra: string]: unknown;
}

const REFERENCE_EVENTS = 500_000;
const BATCH = 2000;
const MB = 1e6;

/** Runs `vigil bench pgaudit`; returns the exit code. */
export async function pgauditBenchCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { bytes: { type: "string" } });
  noRest(rest);
  const bytes = intFlag(values.bytes, "bytes") ?? 1024 ** 3;
  const dir = await Deno.makeTempDir({ prefix: "vigil-bench-pgaudit-" });
  try {
    for (const r of await benchPgaudit({ bytes, dir })) print(JSON.stringify(r));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return 0;
}

/** Generates the log in `dir`, measures intake and both references; returns result lines. */
export async function benchPgaudit(
  opts: { bytes: number; dir: string },
): Promise<PgauditBenchResult[]> {
  const logDir = `${opts.dir}/log`;
  await Deno.mkdir(logDir);
  const path = `${logDir}/postgresql.csv`;
  const log = await writeBenchLog(path, Math.max(4096, opts.bytes));

  const ours = await intake(path, `${opts.dir}/store`, log.bytes);
  await Deno.remove(`${opts.dir}/store`, { recursive: true });
  const copyMs = await copyWithSync(path, `${opts.dir}/copy.csv`);
  await Deno.remove(`${opts.dir}/copy.csv`);
  const ref = await storeAppend(path, `${opts.dir}/store-ref`);

  const mbps = log.bytes / MB / (ours.ms / 1000);
  const refMbps = log.bytes / MB / (copyMs / 1000);
  const eps = ours.events / (ours.ms / 1000);
  const refEps = ref.events / (ref.ms / 1000);
  return [
    {
      bench: "pgaudit.intake",
      value: round(mbps),
      unit: "MB/s of csvlog tailed, parsed, mapped, redacted and stored durably",
      reference: { name: "read + fdatasync'd copy of the same file", value: round(refMbps) },
      ratio: round(mbps / refMbps, 3),
      bytes: log.bytes,
    },
    {
      bench: "pgaudit.intake.events",
      value: Math.round(eps),
      unit: "events/s",
      reference: { name: "store.append of the same events", value: Math.round(refEps) },
      ratio: round(eps / refEps, 3),
      events: ours.events,
      reference_events: ref.events,
    },
    {
      bench: "pgaudit.intake.lines",
      value: Math.round(log.lines / (ours.ms / 1000)),
      unit: "log lines/s",
      lines: log.lines,
      records: log.rows,
    },
  ];
}

/** The real source into a real store, until the durable position is the end of the file. */
async function intake(
  path: string,
  storeDir: string,
  size: number,
): Promise<{ ms: number; events: number }> {
  const store = await Store.open(storeDir, {
    checkpointIntervalMs: 0,
    maxSegmentBytes: 256 * 1024 * 1024,
  });
  const source = pgauditSource({
    path: path.replace(/[^/]*$/, "*.csv"),
    format: "csvlog",
    current_logfiles: false,
    poll_interval_ms: 10,
    batch_max_events: BATCH,
  });
  const ac = new AbortController();
  const t0 = performance.now();
  const running = runSource(store, source, { name: "bench", signal: ac.signal });
  let failed: unknown;
  running.catch((e) => (failed = e));
  try {
    for (;;) {
      if (failed !== undefined) throw failed;
      const pos = store.position("bench");
      if (pos !== undefined && decodePosition(pos).files[0]?.offset === size) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - t0;
    return { ms, events: store.size };
  } finally {
    ac.abort();
    await running.catch(() => {});
    await store.close();
  }
}

/** Reads `from` in 1 MiB reads and writes `to`, fdatasync after each; returns the ms taken. */
async function copyWithSync(from: string, to: string): Promise<number> {
  const src = await Deno.open(from, { read: true });
  const dst = await Deno.open(to, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(1 << 20);
  const t0 = performance.now();
  try {
    for (;;) {
      const n = await src.read(buf);
      if (n === null || n === 0) break;
      for (let w = 0; w < n;) w += await dst.write(buf.subarray(w, n));
      await dst.syncData();
    }
    return performance.now() - t0;
  } finally {
    src.close();
    dst.close();
  }
}

/** The first events of the log, mapped as the source maps them, then timed into a store. */
async function storeAppend(
  path: string,
  storeDir: string,
): Promise<{ ms: number; events: number }> {
  const events: NewEvent[] = [];
  const rules = compileRedaction();
  const decoder = createLogDecoder({ format: "csvlog", file: path, startOffset: 0, startLine: 1 });
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(1 << 20);
    while (events.length < REFERENCE_EVENTS) {
      const n = await file.read(buf);
      if (n === null || n === 0) break;
      decoder.push(buf.subarray(0, n), (rec) => {
        const ev = logEvent(rec, { source: "bench", file: path })?.event;
        if (ev === undefined || events.length >= REFERENCE_EVENTS) return;
        ev.source_pos = `0123456789abcdef0123456789abcdef:${rec.offset}`;
        redactEvent(ev, rules);
        events.push(ev);
      });
    }
  } finally {
    file.close();
  }
  const store = await Store.open(storeDir, { checkpointIntervalMs: 0 });
  const position = JSON.stringify({ v: 1, floor: 0, files: [{ f: "0".repeat(32), o: 0 }] });
  const t0 = performance.now();
  try {
    let next = 0;
    // Two batches in flight, as the source keeps them.
    await Promise.all([0, 1].map(async () => {
      while (next < events.length) {
        const batch = events.slice(next, next + BATCH);
        next += batch.length;
        await store.append({ source: "bench", events: batch, position });
      }
    }));
    return { ms: performance.now() - t0, events: events.length };
  } finally {
    await store.close();
  }
}

function round(v: number, digits = 1): number {
  return Number(v.toFixed(digits));
}
