/**
 * The program behind `vigil bench scale --sources` (`daemon/bench/scale_bench.ts`): `vigil serve`
 * on a large store, taking in what a busy database sends through both of its channels at once.
 * A throwaway PostgreSQL 15 of the test harness with pgAudit (`write, ddl`) and `vigil pg-install`
 * (statement triggers), pgbench's tables, then `serve` with a WAL source and a pgAudit source on
 * it and pgbench TPC-B at a fixed rate for `--seconds`. The daemon's memory is read from /proc
 * every half second: idle once the start's background work is done (`scale_settle.ts`; the
 * reference), over the intake, and its high-water mark; the events stored per second come from
 * `/metrics`. It runs as a child of `vigil bench` with the permissions that starting PostgreSQL,
 * pgbench and `vigil serve` need.
 *
 * `deno run … scripts/bench_scale_sources.ts --data DIR [--seconds 60] [--rate 100]
 *   [--clients 2]`  (DIR: the store's data directory; the run appends to it)
 */

import { print, setLogLevel } from "../daemon/log.ts";
import { installPgSide } from "../daemon/pg/install.ts";
import { storeEvents } from "../daemon/bench/scale_http.ts";
import { procMemory, sleep, spawnVigil, waitHealthy } from "../daemon/bench/scale_process.ts";
import { SETTLE_BUDGET_S, waitStartSettled } from "../daemon/bench/scale_settle.ts";
import { PGBENCH } from "../plugins/proxy/bench/pgbench_run.ts";
import { startPostgres } from "../tests/support/postgres.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

function count(name: string, fallback: number): number {
  const text = arg(name);
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer`);
  return n;
}

setLogLevel("warn"); // Only the result lines on stdout.
const data = arg("data");
if (data === undefined) throw new TypeError("--data DIR is required: the store to serve");
const seconds = count("seconds", 60);
const rate = count("rate", 100);
const clients = count("clients", 2);

await using pg = await startPostgres({
  pgauditLog: "write, ddl",
  settings: { log_connections: false, log_disconnections: false },
});
await installPgSide(pg.dsn());
const init = await new Deno.Command(PGBENCH, {
  args: ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.superuser, "-i", "-q", "-s", "2"]
    .concat(["postgres"]),
  stdout: "null",
  stderr: "piped",
}).output();
if (!init.success) throw new Error(`pgbench -i failed: ${new TextDecoder().decode(init.stderr)}`);

const dir = await Deno.makeTempDir({ prefix: "vigil-bench-scale-sources-" });
try {
  const config = `${dir}/vigil.toml`;
  await Deno.writeTextFile(
    config,
    [
      `data_dir = "${data}"`,
      "",
      "[web]",
      'listen = "127.0.0.1:0"',
      "",
      "[[sources]]",
      'name = "bench-wal"',
      'type = "wal"',
      `dsn = "postgres://${pg.superuser}@127.0.0.1:${pg.port}/postgres"`,
      'slot = "vigil_bench"',
      'publication = "vigil_bench"',
      "",
      "[[sources]]",
      'name = "bench-log"',
      'type = "pgaudit"',
      `path = "${pg.logDir}/*.csv"`,
      'format = "csvlog"',
      "",
    ].join("\n"),
  );
  const serve = spawnVigil(["serve", "--config", config]);
  try {
    const t0 = performance.now();
    const base = await waitHealthy(serve);
    const startS = (performance.now() - t0) / 1000;
    // The start's background work first (a verification of the whole log, minutes at 100M):
    // the figures below are of the intake, on every store size alike.
    const settled = await waitStartSettled(serve, base, SETTLE_BUDGET_S);
    // The reference: the same daemon idle, both sources connected, before any intake.
    let idleHwm = 0;
    for (let k = 0; k < 10; k++) {
      idleHwm = Math.max(idleHwm, (await procMemory(serve.child.pid)).rssMib);
      await sleep(500);
    }
    const before = await storeEvents(base);
    const bench = new Deno.Command(PGBENCH, {
      args: ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.superuser, "-c", String(clients)]
        .concat(["-j", "1", "-R", String(rate), "-T", String(seconds), "postgres"]),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let running = true;
    const finished = bench.output().finally(() => (running = false));
    let intakeMax = 0;
    while (running) {
      intakeMax = Math.max(intakeMax, (await procMemory(serve.child.pid)).rssMib);
      await sleep(500);
    }
    const out = await finished;
    if (!out.success) throw new Error(`pgbench failed: ${new TextDecoder().decode(out.stderr)}`);
    const tps = Number(/tps = ([\d.]+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? NaN);
    // What the sources still had in hand when pgbench stopped.
    for (let k = 0; k < 10; k++) {
      intakeMax = Math.max(intakeMax, (await procMemory(serve.child.pid)).rssMib);
      await sleep(500);
    }
    const after = await storeEvents(base);
    const mem = await procMemory(serve.child.pid);
    print(JSON.stringify({
      bench: "scale.serve_rss_under_sources",
      value: intakeMax,
      unit: "MiB",
      reference: { name: "same serve idle, both sources connected", value: idleHwm },
      ratio: Math.round(intakeMax / idleHwm * 100) / 100,
      high_water_mib: mem.hwmMib,
      start_s: Math.round(startS * 100) / 100,
      settled_s: settled.seconds,
      settle_rss_max_mib: settled.rssMaxMib,
      ...(settled.pending.length === 0 ? {} : { still_running: settled.pending.join(",") }),
      seconds,
      pgbench_tps: tps,
      events_stored_per_s: Math.round((after - before) / (seconds + 5)),
      note: "WAL + pgAudit sources on one PostgreSQL under pgbench TPC-B at a fixed rate",
    }));
  } finally {
    await serve.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
