/**
 * `vigil bench commit`: the fixed cost of one durable group commit, the cost enforce mode's
 * proxy pays for nearly every statement. N one-event appends to the real store (hashing on its
 * Worker, as `serve` runs it), each awaited before the next, so that every append is a group
 * of its own; against a reference measured in the same run: the same number of bare appends of
 * about the same size to a file, each a `write` on the calling thread and an `fdatasync` on the
 * runtime's blocking pool (the store's own I/O for a small group) and nothing else. Reports commits per second and the process's CPU time per commit (every thread: the
 * store's, its hashing Worker's and the runtime's blocking pool's: getrusage).
 */

import { cpuUsage } from "node:process";
import type { BenchResult } from "./store_bench.ts";
import { sampleEvent } from "./store_bench.ts";
import { Store } from "../store/store.ts";

/** The process's CPU time so far (user and system, every thread: getrusage), in seconds. */
function processCpu(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** What one series of commits measured. */
interface Series {
  perSecond: number;
  cpuMs: number;
}

async function measure(n: number, commit: (i: number) => Promise<void>): Promise<Series> {
  const cpu = processCpu();
  const started = performance.now();
  for (let i = 0; i < n; i++) await commit(i);
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: n / seconds, cpuMs: (1000 * (processCpu() - cpu)) / n };
}

/** Runs the commit benchmark with `commits` commits each way (rounds alternate). */
export async function benchCommit(
  opts: { commits: number; dir: string; rounds?: number },
): Promise<BenchResult[]> {
  const rounds = opts.rounds ?? 3;
  const per = Math.max(1, Math.floor(opts.commits / rounds));
  const events = Array.from({ length: 1024 }, (_, i) => sampleEvent(i, "bench"));
  // About what the store writes for one: the event's JSON with its seq and times, its frame
  // and chain hash, and the commit frame that ends the group.
  const size = JSON.stringify(events[0]).length + 150;
  const store = await Store.open(`${opts.dir}/store`, { checkpointIntervalMs: 0 });
  const file = await Deno.open(`${opts.dir}/bare`, { create: true, write: true, append: true });
  const bytes = new Uint8Array(size).fill(0x61);
  const storeRuns: Series[] = [];
  const bareRuns: Series[] = [];
  let next = 0;
  try {
    // Warm-up: the code paths compiled and the files' first blocks allocated.
    for (let i = 0; i < 50; i++) {
      await store.append({ source: "bench", events: [events[next++ % 1024]!] });
      file.writeSync(bytes);
      await file.syncData();
    }
    for (let r = 0; r < rounds; r++) {
      storeRuns.push(
        await measure(per, async () => {
          await store.append({ source: "bench", events: [events[next++ % 1024]!] });
        }),
      );
      bareRuns.push(
        await measure(per, async () => {
          file.writeSync(bytes);
          await file.syncData();
        }),
      );
    }
  } finally {
    file.close();
    await store.close();
  }
  const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
  const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;
  const rate = median(storeRuns.map((s) => s.perSecond));
  const bareRate = median(bareRuns.map((s) => s.perSecond));
  const cpu = median(storeRuns.map((s) => s.cpuMs));
  const bareCpu = median(bareRuns.map((s) => s.cpuMs));
  return [{
    bench: "store.commit.rate",
    value: round(rate, 0),
    unit: "durable one-event commits/s, each awaited before the next",
    reference: { name: `bare ${size}-byte write + fdatasync, same run`, value: round(bareRate, 0) },
    ratio: round(rate / bareRate, 3),
    rounds,
    commits_per_round: per,
    of_rounds: storeRuns.map((s) => round(s.perSecond, 0)),
  }, {
    bench: "store.commit.cpu",
    value: round(cpu, 4),
    unit: "ms of process CPU (every thread) per one-event commit",
    reference: { name: "bare write + fdatasync, same run", value: round(bareCpu, 4) },
    ratio: round(cpu / bareCpu, 3),
    of_rounds: storeRuns.map((s) => round(s.cpuMs, 4)),
  }];
}
