/**
 * Kill -9 of `vigil serve` while pgbench (prepared, 4 clients) runs through its proxy source in
 * enforce mode, then a restart, repeated (3 rounds; `VIGIL_SOAK_ROUNDS` for more). Enforce
 * mode promises that a client gets a result only once its event is durable, so:
 *
 * - every transaction pgbench completed (its per-transaction log, `-l`) has a stored COMMIT,
 *   and there are at most as many more as there were sessions cut mid-commit;
 * - every stored COMMIT's transaction committed in the database (its INSERT's parameters are a
 *   history row), and at most one commit per cut session is missing from the record — one
 *   the server made but whose result never reached the client;
 * - each session's statements are TPC-B transactions in order, none stored twice or skipped,
 *   and no source position or session id is stored twice across the restarts.
 */

import { type ProxyServe, startProxyServe } from "../../../plugins/proxy/bench/proxy_serve.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { backgroundLoad } from "../../support/background_load.ts";
import { PGBENCH, pgbench } from "../../support/pgbench.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { duplicatePositions, statementsOf, transactionsOf } from "../../support/proxy_clients.ts";
import { withTempDir } from "../../support/store.ts";

const ROUNDS = Math.max(3, Number(Deno.env.get("VIGIL_SOAK_ROUNDS") ?? 3));
const CLIENTS = 4;

/** pgbench through the proxy until its connections are cut, logging each transaction. */
function pgbenchThrough(proxy: ProxyServe, pg: PgCluster, logDir: string, app: string) {
  return new Deno.Command(PGBENCH, {
    args: ["-h", "127.0.0.1", "-p", String(proxy.port), "-U", pg.superuser, "-n"]
      .concat(["-M", "prepared", "-c", String(CLIENTS), "-j", "2", "-T", "600"])
      .concat(["-l", "--log-prefix", `${logDir}/tx`, "postgres"]),
    cwd: logDir,
    env: { PGAPPNAME: app },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function loggedTransactions(logDir: string): Promise<number> {
  let n = 0;
  for await (const entry of Deno.readDir(logDir)) {
    if (!entry.name.startsWith("tx.")) continue;
    const text = await Deno.readTextFile(`${logDir}/${entry.name}`);
    n += text.split("\n").filter((l) => l !== "").length;
  }
  return n;
}

async function historyRows(pg: PgCluster): Promise<number> {
  return Number(await pg.sql("SELECT count(*) FROM pgbench_history"));
}

Deno.test(`proxy in enforce mode stores every result a client got, once, across ${ROUNDS} kill -9s`, async () => {
  const started = performance.now();
  await using pg = await startPostgres({ pgauditLog: "none" });
  await using load = await backgroundLoad({ seconds: ROUNDS * 20 + 60 });
  const init = await pgbench(pg, ["-i", "-s", "1", "-q"]).output();
  assert(init.success, `pgbench -i failed: ${new TextDecoder().decode(init.stderr)}`);
  await withTempDir(async (dir) => {
    await using proxy = await startProxyServe({ dir, upstreamPort: pg.port, mode: "enforce" });
    const logged: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const logDir = `${dir}/round-${round}`;
      await Deno.mkdir(logDir);
      const before = await historyRows(pg);
      const bench = pgbenchThrough(proxy, pg, logDir, `crash-${round}`);
      const output = bench.output();
      let benchDone = false;
      output.finally(() => (benchDone = true));
      // Kill once the run is well under way, a little later each time than a fixed point.
      const progress = 50 + Math.floor(Math.random() * 150);
      await assertEventually(async () => {
        if (benchDone) {
          const why = new TextDecoder().decode((await output).stderr);
          throw new Error(`pgbench ended before the kill: ${why}`);
        }
        return (await historyRows(pg)) >= before + progress;
      }, {
        timeoutMs: 120_000,
        message: `round ${round}: ${progress} transactions through the proxy`,
      });
      await proxy.kill();
      const out = await output;
      const stderr = new TextDecoder().decode(out.stderr);
      // pgbench's clients abort when their connections go; exit 2 says the run was cut short.
      assertEquals(out.code, 2, `pgbench after the kill: ${stderr}`);
      logged.push(await loggedTransactions(logDir));
      await proxy.restart();
    }
    await proxy.stop();

    const events = await proxy.events();
    assertEquals(duplicatePositions(events), [], "no source_pos stored twice");
    const connects = events.filter((e) => e.command === "CONNECT");
    assertEquals(
      new Set(connects.map((e) => e.session_id)).size,
      connects.length,
      "no session id used twice across restarts",
    );

    const history = (await pg.sql(
      "SELECT tid || ',' || bid || ',' || aid || ',' || delta FROM pgbench_history",
    )).split("\n").filter((l) => l !== "");
    const committed = new Map<string, number>();
    for (const row of history) committed.set(row, (committed.get(row) ?? 0) + 1);

    let storedCommits = 0;
    let sessions = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ids = connects.filter((e) => e.application_name === `crash-${round}`)
        .map((e) => String(e.session_id));
      let commits = 0;
      sessions += ids.length;
      for (const id of ids) {
        const transactions = transactionsOf(statementsOf(events, id), id);
        for (const tx of transactions) {
          const insert = tx[5]!;
          const key = (insert.params ?? []).join(",");
          const left = committed.get(key) ?? 0;
          assert(left > 0, `a stored COMMIT whose history row is not in the database: ${key}`);
          committed.set(key, left - 1);
          commits++;
        }
      }
      assert(
        commits >= logged[round]! && commits <= logged[round]! + CLIENTS,
        `round ${round}: pgbench completed ${logged[round]} transactions, ` +
          `${commits} COMMITs stored (at most ${CLIENTS} more may be stored)`,
      );
      storedCommits += commits;
    }
    const unrecorded = history.length - storedCommits;
    assert(
      unrecorded >= 0 && unrecorded <= sessions,
      `${history.length} transactions committed, ${storedCommits} stored: at most one per cut ` +
        `session (${sessions}) may be missing`,
    );
    const took = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `proxy crash: ${ROUNDS} kill -9 rounds under pgbench -M prepared (${CLIENTS} clients), ` +
        `${logged.reduce((a, b) => a + b, 0)} transactions completed by clients, ` +
        `${storedCommits} stored, ${history.length} committed (${unrecorded} committed but ` +
        `cut before the client's result), ${events.length} events, 0 duplicates, ${took} s; ` +
        load.describe(),
    );
  });
});
