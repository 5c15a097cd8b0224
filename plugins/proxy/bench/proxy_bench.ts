/**
 * `vigil bench proxy`: pgbench TPC-B (simple and prepared query modes) against one PostgreSQL
 * in four ways in the same run — directly, through Debian's pgbouncer (session pooling, no
 * auditing: the reference), and through Vigil's proxy source under a real `vigil serve` in
 * observe and in enforce mode. For each it reports TPS and its ratio to pgbouncer's, p50/p99
 * transaction latency added over the direct run (from pgbench's per-transaction logs), and for
 * the proxy the events stored per second (until the record of the run is complete) and the
 * daemon's CPU and memory. The runs of one query mode follow each other, so that they share the
 * machine's state as closely as a shared machine allows.
 *
 * Beside them, in the same rounds, the runtime's ceilings (`copy_forwarder.ts`): a forwarder on
 * Deno's socket API that copies bytes and does nothing else (`copy`, observe mode's ceiling), and
 * the same syncing a record to disk before each result goes on (`copy_sync`, enforce mode's), with
 * their TPS against pgbouncer's and their CPU; each proxy mode's TPS line says its ratio to its
 * ceiling too (`ratio_to_ceiling`).
 *
 * A run may sweep client counts (`clients`) and placements (`placement.ts`: everything shared,
 * or PostgreSQL and pgbench on one CPU and the middle tier on the other); the shared placement is
 * always measured first. Lines of a pinned placement are named `proxy.pinned.…`, and of a sweep
 * of several client counts `proxy[.pinned].c<N>.…`; every line says its `clients` and
 * `placement`.
 *
 * Prints one JSON object a line: `bench`, `value`, `unit`, `reference {name, value}`, `ratio`.
 */

import { readLog } from "../../../daemon/store/log_reader.ts";
import { type PgbenchRun, quantile, runPgbench } from "./pgbench_run.ts";
import { startPgbouncer } from "./pgbouncer.ts";
import { startCopyForwarder } from "./copy_forwarder.ts";
import { type ProxyMode, type ProxyServe, startProxyServe } from "./proxy_serve.ts";
import { procMemory } from "../../../daemon/bench/scale_process.ts";
import { checkPlacement, cpusOf, pinTree, type Placement } from "./placement.ts";

/** Options of {@link benchProxy}. */
export interface ProxyBenchOptions {
  /** A PostgreSQL on 127.0.0.1 that trusts `user` over TCP, with pgbench's tables in place. */
  pgPort: number;
  /** Its postmaster's pid, for pinning it. */
  pgPid: number;
  user: string;
  /** An empty directory for the daemons' data, pgbouncer's config and pgbench's logs. */
  dir: string;
  /** Length of each run: seconds, or transactions per client. */
  length: { seconds: number } | { transactions: number };
  /** Client counts, each a run of every target in both query modes. */
  clients: number[];
  /** Placements, each a run of every client count; default shared only. */
  placements?: Placement[];
  jobs: number;
  /** Runs of each target, interleaved; TPS is their median, latencies are pooled. Default 1. */
  rounds?: number;
}

/** What the rounds of one target measured. */
interface Measured {
  runs: PgbenchRun[];
  stored: number;
  wall: number;
  cpu: number;
  rssMib: number;
  hwmMib: number;
}

/** One result line. */
export interface ProxyBenchResult {
  bench: string;
  value: number;
  unit: string;
  reference?: { name: string; value: number };
  ratio?: number;
  [extra: string]: unknown;
}

type Ceiling = "copy" | "copy_sync";
type Target = "direct" | "pgbouncer" | Ceiling | ProxyMode;
const TARGETS: readonly Target[] = [
  "direct",
  "pgbouncer",
  "copy",
  "copy_sync",
  "observe",
  "enforce",
];
/** The targets whose process's CPU and memory the bench reads: the copy forwarders, the daemons. */
type Measurable = Ceiling | ProxyMode;
/** What each mode is measured against besides pgbouncer: the forwarder that does its minimum. */
const CEILING: Record<ProxyMode, Ceiling> = { observe: "copy", enforce: "copy_sync" };
const QUERY_MODES = ["simple", "prepared"] as const;
const CLK_TCK = 100;

/** Runs every target in both query modes; calls `report` with each result line. */
export async function benchProxy(
  opts: ProxyBenchOptions,
  report: (r: ProxyBenchResult) => void,
): Promise<void> {
  const placements: Placement[] = opts.placements ?? ["shared"];
  for (const p of placements) checkPlacement(p);
  await using bouncer = await startPgbouncer({
    dir: await subdir(opts.dir, "pgbouncer"),
    upstreamPort: opts.pgPort,
    user: opts.user,
    poolSize: Math.max(...opts.clients) + 2,
  });
  await using observe = await startProxyServe({
    dir: await subdir(opts.dir, "observe"),
    upstreamPort: opts.pgPort,
    mode: "observe",
  });
  await using enforce = await startProxyServe({
    dir: await subdir(opts.dir, "enforce"),
    upstreamPort: opts.pgPort,
    mode: "enforce",
  });
  await using copy = await startCopyForwarder({ upstreamPort: opts.pgPort });
  await using copySync = await startCopyForwarder({
    upstreamPort: opts.pgPort,
    syncDir: await subdir(opts.dir, "copy-sync"),
  });
  const ports: Record<Target, number> = {
    direct: opts.pgPort,
    pgbouncer: bouncer.port,
    copy: copy.port,
    copy_sync: copySync.port,
    observe: observe.port,
    enforce: enforce.port,
  };
  // A getter each: a daemon's pid is that of its current process.
  const pids: Record<Measurable, () => number> = {
    copy: () => copy.pid,
    copy_sync: () => copySync.pid,
    observe: () => observe.pid,
    enforce: () => enforce.pid,
  };
  const tails = { observe: new RecordTail(observe), enforce: new RecordTail(enforce) };
  for (const placement of placements) {
    await pinTree(opts.pgPid, cpusOf(placement, "database"));
    for (const pid of [bouncer.pid, ...Object.values(pids).map((pid) => pid())]) {
      await pinTree(pid, cpusOf(placement, "middle"));
    }
    for (const clients of opts.clients) {
      const prefix = (placement === "pinned" ? "pinned." : "") +
        (opts.clients.length > 1 ? `c${clients}.` : "");
      const run: RunOf = { placement, clients, prefix, ports, pids, tails };
      for (const mode of QUERY_MODES) await benchMode(opts, run, mode, report);
    }
  }
}

/** One placement and client count of a bench run. */
interface RunOf {
  placement: Placement;
  clients: number;
  /** What the bench names of its lines start with after `proxy.`. */
  prefix: string;
  ports: Record<Target, number>;
  pids: Record<Measurable, () => number>;
  tails: Record<ProxyMode, RecordTail>;
}

/** Every target in one query mode, rounds interleaved; reports its lines. */
async function benchMode(
  opts: ProxyBenchOptions,
  run: RunOf,
  mode: typeof QUERY_MODES[number],
  report: (r: ProxyBenchResult) => void,
): Promise<void> {
  const { pids, tails, ports, clients } = run;
  const line = (r: ProxyBenchResult): void =>
    report({
      ...r,
      bench: `proxy.${run.prefix}${r.bench.slice("proxy.".length)}`,
      clients,
      placement: run.placement,
    });
  const measured = new Map<Target, Measured>(
    TARGETS.map((t) => [t, { runs: [], stored: 0, wall: 0, cpu: 0, rssMib: 0, hwmMib: 0 }]),
  );
  // Rounds go through every target in turn, so that a burst of load elsewhere on the machine
  // falls on all of them rather than on one.
  for (let r = 0; r < (opts.rounds ?? 1); r++) {
    for (const target of TARGETS) {
      const m = measured.get(target)!;
      const pid = measurable(target) ? pids[target]() : undefined;
      const tail = isMode(target) ? tails[target] : undefined;
      await tail?.read();
      const cpuBefore = pid === undefined ? 0 : await cpuTicks(pid);
      const started = performance.now();
      m.runs.push(
        await runPgbench({
          port: ports[target],
          user: opts.user,
          mode,
          clients,
          jobs: opts.jobs,
          length: opts.length,
          logDir: await subdir(
            opts.dir,
            `log-${run.placement}-${clients}-${target}-${mode}-${r}`,
          ),
          ...(run.placement === "pinned" ? { cpus: cpusOf("pinned", "database") } : {}),
        }),
      );
      if (pid === undefined) continue;
      if (tail !== undefined) m.stored += await tail.settle();
      m.wall += (performance.now() - started) / 1000;
      m.cpu += (await cpuTicks(pid) - cpuBefore) / CLK_TCK;
      const memory = await procMemory(pid);
      m.rssMib = memory.rssMib;
      m.hwmMib = memory.hwmMib;
    }
  }
  const runs = new Map<Target, PgbenchRun>(
    [...measured].map(([target, m]) => [target, combine(m.runs)]),
  );
  const processLines = new Map<Target, ProxyBenchResult[]>();
  for (const target of TARGETS.filter(measurable)) {
    const m = measured.get(target)!;
    const tx = runs.get(target)!.transactions;
    const daemon = isMode(target);
    const lines: ProxyBenchResult[] = !daemon ? [] : [{
      bench: `proxy.${target}.${mode}.events`,
      value: Math.round(m.stored / m.wall),
      unit: "events/s stored, from pgbench's start until the run's record is complete",
      events: m.stored,
      seconds: round(m.wall, 2),
    }];
    lines.push({
      bench: `proxy.${target}.${mode}.cpu`,
      value: round(m.cpu / m.wall, 3),
      unit: `CPU cores used by ${daemon ? "vigil serve" : "the copy forwarder"} during the runs`,
      cpu_s: round(m.cpu, 2),
      cpu_ms_per_transaction: tx > 0 ? round(1000 * m.cpu / tx, 3) : null,
      rss_mib: m.rssMib,
      peak_rss_mib: m.hwmMib,
    });
    processLines.set(target, lines);
  }
  const direct = runs.get("direct")!;
  const bouncer = runs.get("pgbouncer")!;
  for (const target of TARGETS) {
    const run = runs.get(target)!;
    const reference = target === "pgbouncer" ? direct : bouncer;
    const ref = target === "pgbouncer" ? "direct to PostgreSQL" : "through pgbouncer";
    line({
      bench: `proxy.${target}.${mode}.tps`,
      value: round(run.tps, 1),
      unit: `TPS, pgbench TPC-B -M ${mode}, ${clients} clients`,
      ...(target === "direct" ? {} : {
        reference: { name: `${ref}, same run`, value: round(reference.tps, 1) },
        ratio: round(run.tps / reference.tps, 3),
      }),
      ...(isMode(target)
        ? {
          ceiling: CEILING[target],
          ratio_to_ceiling: round(run.tps / runs.get(CEILING[target])!.tps, 3),
        }
        : {}),
      transactions: run.transactions,
      ...(opts.rounds === undefined || opts.rounds === 1
        ? {}
        : { tps_of_rounds: measured.get(target)!.runs.map((x) => round(x.tps, 1)) }),
    });
    if (target === "direct") continue;
    const added = (p: number, r: PgbenchRun) =>
      round((quantile(r.latenciesUs, p) - quantile(direct.latenciesUs, p)) / 1000, 3);
    line({
      bench: `proxy.${target}.${mode}.latency_added_p99`,
      value: added(0.99, run),
      unit: "ms added to the p99 transaction latency over the direct run",
      ...(target === "pgbouncer" ? {} : {
        reference: { name: "pgbouncer's, same run", value: added(0.99, bouncer) },
      }),
      p50_added_ms: added(0.5, run),
      p50_ms: round(quantile(run.latenciesUs, 0.5) / 1000, 3),
      p99_ms: round(quantile(run.latenciesUs, 0.99) / 1000, 3),
      direct_p50_ms: round(quantile(direct.latenciesUs, 0.5) / 1000, 3),
      direct_p99_ms: round(quantile(direct.latenciesUs, 0.99) / 1000, 3),
    });
    for (const l of processLines.get(target) ?? []) line(l);
  }
}

/**
 * Reads a daemon's log forward from where it last stopped, counting its source's events and
 * which of its sessions are still open, so that `settle` knows when a run's record is complete.
 */
class RecordTail {
  #daemon: ProxyServe;
  #next = 0;
  #open = new Set<string>();
  #stored = 0;

  constructor(daemon: ProxyServe) {
    this.#daemon = daemon;
  }

  /** Reads what is new; returns how many of the source's events that was. */
  async read(): Promise<number> {
    let count = 0;
    for await (const { seq, event } of readLog(this.#daemon.dataDir, { fromSeq: this.#next })) {
      this.#next = seq + 1;
      if (event.source !== this.#daemon.source) continue;
      count++;
      const session = String(event.session_id);
      if (event.command === "CONNECT") this.#open.add(session);
      if (event.command === "DISCONNECT") this.#open.delete(session);
    }
    this.#stored += count;
    return count;
  }

  /** Waits until every session seen has closed; returns the events stored since last settled. */
  async settle(timeoutMs = 120_000): Promise<number> {
    const before = this.#stored;
    const deadline = performance.now() + timeoutMs;
    let seenAny = false;
    for (;;) {
      seenAny = (await this.read()) > 0 || seenAny;
      if (seenAny && this.#open.size === 0) return this.#stored - before;
      if (performance.now() > deadline) {
        throw new Error(
          `the proxy's record of the run was not complete within ${timeoutMs / 1000} s ` +
            `(${this.#open.size} sessions open): ${await this.#daemon.logTail()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** One run standing for several: the median TPS, every transaction's latency. */
function combine(runs: PgbenchRun[]): PgbenchRun {
  if (runs.length === 1) return runs[0]!;
  const tps = Float64Array.from(runs.map((r) => r.tps)).sort();
  const all = new Float64Array(runs.reduce((n, r) => n + r.latenciesUs.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latenciesUs, at);
    at += r.latenciesUs.length;
  }
  return {
    tps: quantile(tps, 0.5),
    transactions: runs.reduce((n, r) => n + r.transactions, 0),
    latenciesUs: all.sort(),
  };
}

/** Whether the target is the proxy in one of its modes (a `vigil serve`). */
function isMode(target: Target): target is ProxyMode {
  return target === "observe" || target === "enforce";
}

function measurable(target: Target): target is Measurable {
  return target !== "direct" && target !== "pgbouncer";
}

/** utime + stime of a process, in clock ticks, read through `cat` as `procMemory` does. */
async function cpuTicks(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  // Fields after the parenthesised command name, which may itself hold spaces.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function subdir(dir: string, name: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.mkdir(path, { recursive: true });
  return path;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
