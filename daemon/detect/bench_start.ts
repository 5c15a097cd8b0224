/**
 * `vigil bench detect`, second part: what detection costs at a daemon's start. The first part's
 * events go into a store of the daemon's own settings (64 MiB segments). Each start runs in a
 * process of its own, as `serve` would (store opened, then `LiveDetection` until current), so
 * that its time and its peak RSS are its own: the resume — the snapshot loaded and the events
 * after it caught up — and, as the reference in the same run, a full replay of the same log
 * with no snapshot (what every start did before snapshots). The resume should cost the same at
 * any size of the log; the replay grows with it.
 *
 * It needs a source checkout: the child is this module, started with `deno run`.
 */

import type { BenchResult } from "../bench/store_bench.ts";
import { procMemory } from "../bench/scale_process.ts";
import type { NewEvent } from "../event/model.ts";
import { print } from "../log.ts";
import { Store } from "../store/store.ts";
import { alertsPath, AlertStore } from "./alert_store.ts";
import type { DetectConfig } from "./config.ts";
import { LiveDetection } from "./live.ts";
import { snapshotPath } from "./snapshot.ts";

/** Events appended after the snapshot: a daemon stopped, events came (or it crashed). */
export const START_TAIL = 20_000;
const HOUR_US = 3_600_000_000;

/** What a child start reports. */
interface StartRun {
  storeOpenSeconds: number;
  detectSeconds: number;
  stopSeconds: number;
  read: number;
  reason: string | null;
  state: string;
  hwmMib: number;
  rssMib: number;
  /** The high-water mark once the store was open, before detection started. */
  openHwmMib: number;
}

/** Starts this module on `dataDir` in a child and measures it until detection is current. */
async function startChild(dataDir: string, cfg: DetectConfig): Promise<StartRun> {
  const root = new URL("../../", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `--allow-ffi=/usr/lib/x86_64-linux-gnu/libcrypto.so.3,${root}.tools/native/libvigil_hash.so`,
      new URL(import.meta.url).pathname,
      dataDir,
      JSON.stringify(cfg),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const line = async (): Promise<Record<string, unknown>> => {
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`the start child ended early: ${text}`);
      text += value;
    }
    const at = text.indexOf("\n");
    const out = JSON.parse(text.slice(0, at));
    text = text.slice(at + 1);
    return out;
  };
  // Memory is read while it waits for a line on stdin: once the store is open, once detection
  // is current. Its high-water mark is then that of the start alone.
  const input = child.stdin.getWriter();
  await line();
  const open = await procMemory(child.pid);
  await input.write(new TextEncoder().encode("go\n"));
  const started = await line();
  const mem = await procMemory(child.pid);
  await input.close();
  const stopped = await line();
  await lines.cancel();
  const status = await child.status;
  if (!status.success) throw new Error(`the start child failed with ${status.code}`);
  return { ...started, ...stopped, ...mem, openHwmMib: open.hwmMib } as unknown as StartRun;
}

/** Copies a file if it exists (the alert store's WAL files come and go). */
async function copyIfThere(from: string, to: string): Promise<void> {
  await Deno.copyFile(from, to).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** Appends `events` to the store in `dataDir` (created with the daemon's defaults). */
async function fill(dataDir: string, source: string, events: readonly NewEvent[]): Promise<number> {
  const store = await Store.open(dataDir, { checkpointIntervalMs: 0 });
  try {
    for (let i = 0; i < events.length; i += 1000) {
      await store.append({ source, events: events.slice(i, i + 1000) });
    }
    return store.size;
  } finally {
    await store.close();
  }
}

/**
 * Measures a start with a snapshot `tail.length` events behind the log against a full replay
 * of the same log, on a store of `events` and then `tail` in `dir`. The tail is moved into the
 * hour after the last event: what came in while a daemon was down, or since its last snapshot.
 */
export async function benchDetectStart(opts: {
  dir: string;
  config: DetectConfig;
  events: readonly NewEvent[];
  tail: readonly NewEvent[];
}): Promise<BenchResult[]> {
  const { config } = opts;
  const dataDir = `${opts.dir}/start`;
  const saved = `${opts.dir}/start-saved`;
  await Deno.mkdir(saved);
  await fill(dataDir, "bench", opts.events);
  // A first start makes the snapshot (and the alert store beside it) of the whole log.
  const prep = await startChild(dataDir, config);
  const files = [snapshotPath(dataDir), alertsPath(dataDir)];
  for (const f of files) await Deno.copyFile(f, `${saved}/${f.slice(dataDir.length + 1)}`);
  const after = opts.events.at(-1)?.ts ?? 0;
  const tail = opts.tail.map((e, i) => ({
    ...e,
    ts: after + 1 + Math.floor(i * HOUR_US / opts.tail.length),
  }));
  const size = await fill(dataDir, "bench-tail", tail);

  // The reference: the same log, no snapshot.
  await Deno.remove(snapshotPath(dataDir));
  const replay = await startChild(dataDir, config);
  // Back to the snapshot behind the log, with its alert store.
  for (const f of files) await copyIfThere(`${saved}/${f.slice(dataDir.length + 1)}`, f);
  for (const ext of ["-wal", "-shm"]) await Deno.remove(alertsPath(dataDir) + ext).catch(() => {});
  const snapshotBytes = (await Deno.stat(snapshotPath(dataDir))).size;
  const resume = await startChild(dataDir, config);
  if (resume.reason !== null || resume.read !== opts.tail.length) {
    throw new Error(`the resume did not load the snapshot: ${JSON.stringify(resume)}`);
  }
  if (replay.read !== size) throw new Error(`the replay read ${replay.read} of ${size} events`);
  const r3 = (x: number): number => Number(x.toFixed(3));
  return [{
    bench: "detect.start",
    value: r3(resume.detectSeconds),
    unit: "s",
    reference: {
      name: "full replay of the same log, no snapshot, same run",
      value: r3(replay.detectSeconds),
    },
    ratio: r3(r3(resume.detectSeconds) / r3(replay.detectSeconds)),
    events: size,
    caught_up: resume.read,
    snapshot_bytes: snapshotBytes,
    snapshot_write_seconds: r3(resume.stopSeconds),
    store_open_seconds: r3(resume.storeOpenSeconds),
    first_replay_seconds: r3(prep.detectSeconds),
  }, {
    bench: "detect.start_peak_rss",
    value: resume.hwmMib,
    unit: "MiB",
    reference: { name: "full replay of the same log, no snapshot, same run", value: replay.hwmMib },
    ratio: r3(resume.hwmMib / replay.hwmMib),
    rss_after_start_mib: resume.rssMib,
    store_open_peak_rss_mib: resume.openHwmMib,
    replay_rss_after_start_mib: replay.rssMib,
    events: size,
  }];
}

/** The child: one start of detection on a closed store, as `serve` does it. */
async function childMain(dataDir: string, cfg: DetectConfig): Promise<void> {
  const stdin = Deno.stdin.readable.getReader();
  const t0 = performance.now();
  const store = await Store.open(dataDir, { checkpointIntervalMs: 0 });
  const opened = performance.now() - t0;
  // The parent reads this process's memory between the steps.
  print("{}");
  await stdin.read();
  const t1 = performance.now();
  const alerts = AlertStore.open(alertsPath(dataDir));
  const live = LiveDetection.start(store, { config: cfg, alerts });
  await live.current;
  const t2 = performance.now();
  const s = live.status();
  print(JSON.stringify({
    storeOpenSeconds: opened / 1000,
    detectSeconds: (t2 - t1) / 1000,
    read: s.read,
    reason: s.reason,
    state: s.state,
  }));
  while (!(await stdin.read()).done) { /* until the parent closes stdin */ }
  const t3 = performance.now();
  await live.stop();
  print(JSON.stringify({ stopSeconds: (performance.now() - t3) / 1000 }));
  alerts.close();
  await store.close();
}

if (import.meta.main) {
  const [dataDir, cfg] = Deno.args;
  await childMain(dataDir!, JSON.parse(cfg!) as DetectConfig);
}
