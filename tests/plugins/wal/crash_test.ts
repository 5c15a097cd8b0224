/**
 * Kill -9 of the collector at random moments during a pgbench run, repeated (at least 10
 * times; `VIGIL_SOAK_ROUNDS` for more), ends with every committed row change stored exactly
 * once. The collector is `tests/support/wal_runner.ts` in a child process — the store and the
 * WAL source as the daemon runs them — so a kill leaves what a crashed daemon would leave.
 */

import { readLog } from "../../../daemon/store/log_reader.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";
import { parseSourcePos } from "../../../plugins/wal/position.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { backgroundLoad } from "../../support/background_load.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { walRunnerArgv } from "../../support/wal_runner.ts";
import { confirmedFlush } from "./_source_harness.ts";
import { pgbench } from "../../support/pgbench.ts";

const SLOT = "vigil_crash";
const PUBLICATION = "vigil_crash";
const ROUNDS = Math.max(10, Number(Deno.env.get("VIGIL_SOAK_ROUNDS") ?? 10));

/** `source failed: …` lines of every runner: runs the supervisor had to restart. */
const sourceFailures: string[] = [];

/** A runner child and the promise of its "ready" line (false when it exited first). */
interface Runner {
  child: Deno.ChildProcess;
  ready: Promise<boolean>;
  stderr: Promise<string>;
}

function spawnRunner(pg: PgCluster, data: string): Runner {
  const child = new Deno.Command(Deno.execPath(), {
    args: walRunnerArgv({ data, dsn: pg.dsn(), slot: SLOT, publication: PUBLICATION }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes("ready\n")) {
        // Keep draining so the child never blocks on a full pipe.
        child.stdout.cancel().catch(() => {});
        return true;
      }
    }
    return false;
  })().catch(() => false);
  const stderr = new Response(child.stderr).text().catch(() => "");
  stderr.then((text) => {
    for (const line of text.split("\n")) {
      if (line.startsWith("source failed: ")) sourceFailures.push(line);
    }
  });
  return { child, ready, stderr };
}

/** Starts runners until one streams (a killed one's walsender may still hold the slot). */
async function startStreaming(pg: PgCluster, data: string): Promise<Runner> {
  for (let attempt = 0;; attempt++) {
    const runner = spawnRunner(pg, data);
    if (await runner.ready) return runner;
    const status = await runner.child.status;
    const why = await runner.stderr;
    if (attempt >= 50) {
      throw new Error(`wal_runner never streamed (exit ${status.code}): ${why.slice(-2000)}`);
    }
    await sleep(200);
  }
}

/** Kills `runner` with `signal`; fails with its stderr when it had already exited by itself. */
async function kill(runner: Runner, signal: Deno.Signal): Promise<Deno.CommandStatus> {
  try {
    runner.child.kill(signal);
  } catch {
    const status = await runner.child.status;
    throw new Error(`wal_runner exited by itself (${status.code}): ${await runner.stderr}`);
  }
  return await runner.child.status;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `key → value` of a two-column query. */
async function pairs(pg: PgCluster, query: string): Promise<Map<string, string>> {
  const text = await pg.sql(query);
  return new Map(
    text.split("\n").filter((l) => l !== "").map((l) => l.split("|") as [string, string]),
  );
}

Deno.test(`walSource() stores every committed pgbench change exactly once across ${ROUNDS} kill -9s`, async () => {
  const started = performance.now();
  await using pg = await startPostgres();
  // Under `deno task soak`: more clusters under pgbench and fdatasync writers beside it.
  await using load = await backgroundLoad({ seconds: ROUNDS * 3 + 90 });
  const init = await pgbench(pg, ["-i", "-s", "1", "-q"]).output();
  assert(init.success, `pgbench -i failed: ${new TextDecoder().decode(init.stderr)}`);
  // A key of its own per history row: pgbench's columns alone may repeat.
  await pg.sql(`ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY`);
  await withTempDir(async (data) => {
    // The first start makes the publication and the slot; what committed before is not ours.
    let runner = await startStreaming(pg, data);
    await kill(runner, "SIGKILL");

    const seconds = ROUNDS * 2 + 2;
    const bench = pgbench(pg, ["-c", "4", "-j", "2", "-T", String(seconds), "-n"]).spawn();
    const benchOut = bench.output();
    let kills = 0;
    let benchDone = false;
    benchOut.finally(() => (benchDone = true));
    while (kills < ROUNDS) {
      runner = await startStreaming(pg, data);
      await sleep(500 + Math.random() * 1000);
      await kill(runner, "SIGKILL");
      kills++;
      if (benchDone) break;
    }
    const killsUnderLoad = kills;
    while (kills < ROUNDS) { // Only when pgbench ended early: the rest still kill mid-stream.
      runner = await startStreaming(pg, data);
      await sleep(500 + Math.random() * 1000);
      await kill(runner, "SIGKILL");
      kills++;
    }
    const out = await benchOut;
    assert(out.success, `pgbench failed: ${new TextDecoder().decode(out.stderr)}`);
    const tpsText = /tps = ([\d.]+)/.exec(new TextDecoder().decode(out.stdout))?.[1];
    const tps = tpsText === undefined ? "?" : Math.round(Number(tpsText));

    // Catch up: everything up to the end of pgbench's WAL, plus one later commit to carry the
    // slot's confirmed position past it.
    const end = parseLsn(await pg.sql(`SELECT pg_current_wal_lsn()`));
    await pg.sql(`CREATE TABLE crash_marker (id int); INSERT INTO crash_marker VALUES (1)`);
    runner = await startStreaming(pg, data);
    await assertEventually(async () => ((await confirmedFlush(pg, SLOT)) ?? 0n) >= end, {
      timeoutMs: 120_000,
      message: "the slot confirmed past pgbench's WAL",
    });
    const last = await kill(runner, "SIGTERM");
    assertEquals(last.code, 0, `wal_runner did not stop cleanly: ${await runner.stderr}`);

    // What the store holds, against what PostgreSQL committed.
    const positions = new Set<string>();
    const perCommit = new Map<bigint, number[]>();
    const historyIds: string[] = [];
    const balances: Record<string, Map<string, string>> = {
      "public.pgbench_accounts": new Map(),
      "public.pgbench_tellers": new Map(),
      "public.pgbench_branches": new Map(),
    };
    const keys: Record<string, string> = {
      "public.pgbench_accounts": "aid",
      "public.pgbench_tellers": "tid",
      "public.pgbench_branches": "bid",
    };
    let duplicates = 0;
    let rowChanges = 0;
    let updates = 0;
    for await (const { event } of readLog(data)) {
      if (event.kind !== "row_change") continue;
      rowChanges++;
      const pos = String(event.source_pos);
      if (positions.has(pos)) duplicates++;
      positions.add(pos);
      const place = parseSourcePos(pos);
      const list = perCommit.get(place.commitLsn) ?? [];
      list.push(place.index);
      perCommit.set(place.commitLsn, list);
      const object = String(event.object);
      if (event.command === "INSERT" && object === "public.pgbench_history") {
        historyIds.push(String(event.new_row?.hid));
      } else if (event.command === "UPDATE") {
        const table = balances[object];
        const key = keys[object];
        assert(table !== undefined && key !== undefined, `unexpected UPDATE of ${object}`);
        updates++;
        const row = event.new_row ?? {};
        const balance = row[key === "aid" ? "abalance" : key === "tid" ? "tbalance" : "bbalance"];
        table.set(String(row[key]), String(balance));
      }
    }
    assertEquals(duplicates, 0, "no source_pos stored twice");
    let badCommits = 0;
    for (const indexes of perCommit.values()) {
      const sorted = [...indexes].sort((a, b) => a - b);
      // One TPC-B transaction: 3 UPDATEs and 1 INSERT, each index once, none missing.
      if (sorted.length !== 4 || sorted.some((x, i) => x !== sorted[0]! + i)) badCommits++;
    }
    // The marker's one INSERT is the only commit that is not a TPC-B transaction.
    assertEquals(badCommits, 1, "every pgbench commit stored with exactly its 4 changes");

    const committed = (await pg.sql(`SELECT hid FROM pgbench_history ORDER BY hid`))
      .split("\n").filter((l) => l !== "");
    assertEquals(historyIds.length, committed.length, "one stored INSERT per history row");
    assertEquals(new Set(historyIds).size, historyIds.length, "no history row stored twice");
    assertEquals([...historyIds].sort(), [...committed].sort(), "the same history rows");
    assertEquals(updates, 3 * committed.length, "3 UPDATEs per committed TPC-B transaction");
    for (
      const [object, table, query] of [
        ["public.pgbench_accounts", "accounts", "SELECT aid, abalance FROM pgbench_accounts"],
        ["public.pgbench_tellers", "tellers", "SELECT tid, tbalance FROM pgbench_tellers"],
        ["public.pgbench_branches", "branches", "SELECT bid, bbalance FROM pgbench_branches"],
      ] as const
    ) {
      const db = await pairs(pg, query);
      const replayed = balances[object]!;
      let mismatches = 0;
      for (const [id, balance] of db) if ((replayed.get(id) ?? "0") !== balance) mismatches++;
      assertEquals(mismatches, 0, `${table} balances replayed from the store equal the database's`);
    }
    const failures = sourceFailures.length;
    const took = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash soak: ${kills} kill -9 rounds (${killsUnderLoad} under pgbench load, ${tps} tps), ` +
        `${committed.length} transactions, ${rowChanges} row changes stored ` +
        `(${updates} UPDATEs, ${historyIds.length} INSERTs), 0 lost, 0 duplicates, ${took} s; ` +
        `${load.describe()}; source runs that failed and were restarted: ${failures}` +
        (failures ? `\n  first: ${sourceFailures[0]}` : ""),
    );
    // A kill is the only way a run may end here: a source run that failed on its own (an ack
    // refused, a decode error) would be a bug hidden by the supervisor's restart.
    assertEquals(sourceFailures, [], "no source run failed on its own");
  });
});
