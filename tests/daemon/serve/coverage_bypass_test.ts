/**
 * The bypasses of issue 15 against `vigil serve` as an admin runs it: a real PostgreSQL 15 with
 * pgAudit at Vigil's recommended scope (and the shape-only options guides recommend), pg-install
 * run, a WAL source and a pgAudit source. The recommended settings and an ordinary workload
 * raise no alert; then each bypass raises its alert, found by the seq of the event that shows it:
 *
 * - a session's `SET session_replication_role = replica` (pgAudit's MISC_SET line), and DDL in
 *   that session still reaches the WAL (the event triggers are ENABLE ALWAYS);
 * - `ALTER EVENT TRIGGER … ENABLE REPLICA` (the DDL, and the watchdog's trigger check);
 * - `CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands()` with an empty body;
 * - `ALTER SYSTEM SET pgaudit.log = 'ddl'` (the configuration read back: AUDIT_REDUCED).
 *
 * pg-install's repairs in between raise nothing. (A session's own `SET pgaudit.log = 'none'`
 * is never in pgAudit's log; its writes carry `pgaudit_log: none` in their `vigil.stmt`
 * message, for the WAL/pgAudit join's coverage alarm.)
 */

import { installPgSide } from "../../../daemon/pg/install.ts";
import { RECOMMENDED_PGAUDIT } from "../../../daemon/pg/pgaudit_scope.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { withPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

interface Ev {
  seq: number;
  kind: string;
  source: string;
  command?: string;
  statement?: string;
  object?: string;
  context?: Record<string, unknown>;
}

interface Alert {
  rule: string;
  severity: string;
  seqs: number[];
  reason: string;
}

const WATCHED = new Set(["audit_tampering", "audit_reduced"]);

Deno.test("vigil serve: each bypass of the audit raises its alert, the recommended settings none", async () => {
  await withPostgres(async (pg) => {
    await installPgSide(pg.dsn());
    await pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, balance int)");
    await withTempDir(async (data) => {
      const file = `${data}.toml`;
      // Beside the temporary directory, not in it: removed here, whatever the test's outcome.
      await using _config = { [Symbol.asyncDispose]: () => Deno.remove(file).catch(() => {}) };
      await Deno.writeTextFile(
        file,
        [
          `data_dir = "${data}"`,
          "[web]",
          'listen = "127.0.0.1:0"',
          "[[sources]]",
          'name = "wal"',
          'type = "wal"',
          `dsn = "${pg.dsn()}"`,
          'slot = "vigil_wal"',
          'publication = "vigil_wal"',
          "heartbeat_interval_ms = 200",
          "trigger_check_heartbeats = 1",
          "config_check_interval_ms = 200",
          "[[sources]]",
          'name = "log"',
          'type = "pgaudit"',
          `path = "${pg.logDir}/*.csv"`,
          'format = "csvlog"',
          "",
        ].join("\n"),
      );
      const child = spawnVigil(["serve", "--config", file]);
      let exited = false;
      const status = child.status.then((s) => (exited = true, s));
      const stderr = new Response(child.stderr).text();
      await new Response(child.stdout).body?.cancel();
      const events = async (): Promise<Ev[]> => {
        const q = await runVigil(["query", "--data", data, "--limit", "1000000"]);
        if (q.stderr.includes("not a Vigil data directory")) return []; // serve is starting
        assertEquals(q.code, 0, q.stderr);
        return q.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
      };
      /** The first event (after seq `after`) that `match` accepts, once stored. */
      const stored = (after: number, what: string, match: (e: Ev) => boolean) =>
        assertEventually(async () => (await events()).find((e) => e.seq > after && match(e)), {
          timeoutMs: 30_000,
          message: `${what} stored`,
        });
      const expect: [string, number, string][] = [];
      try {
        // The recommended settings and an ordinary workload.
        const snapshot = await stored(-1, "PG_CONFIG", (e) => e.command === "PG_CONFIG");
        await pg.sql("INSERT INTO accounts VALUES (1, 10); UPDATE accounts SET balance = 5;");
        const quiet = await stored(snapshot.seq, "the workload", (e) => e.command === "UPDATE");

        // 1. A session that skips origin triggers, then DDL in it.
        await pg.sql(`SET session_replication_role = replica;
          CREATE TABLE skipped (id int);`);
        const set = await stored(
          quiet.seq,
          "SET session_replication_role",
          (e) => e.source === "log" && e.context?.setting === "session_replication_role",
        );
        expect.push(["audit_tampering", set.seq, "SET session_replication_role = replica"]);
        await stored(
          quiet.seq,
          "the DDL made under replica",
          (e) => e.source === "wal" && e.kind === "ddl" && e.object === "public.skipped",
        );

        // 2. An event trigger set to fire only in replica sessions.
        await pg.sql("ALTER EVENT TRIGGER vigil_ddl_command_end ENABLE REPLICA");
        const replica = await stored(
          set.seq,
          "ENABLE REPLICA",
          (e) => e.source === "log" && /ENABLE REPLICA/.test(e.statement ?? ""),
        );
        expect.push(["audit_tampering", replica.seq, "ALTER EVENT TRIGGER … ENABLE REPLICA"]);
        const missing = await stored(
          set.seq,
          "the watchdog's alarm",
          (e) => e.command === "WAL_DDL_TRIGGER_MISSING",
        );
        expect.push(["audit_tampering", missing.seq, "WAL_DDL_TRIGGER_MISSING"]);
        await installPgSide(pg.dsn());

        // 3. A function of the vigil schema replaced with an empty body.
        await pg.sql(`CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands() RETURNS event_trigger
          LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ BEGIN END $$`);
        const replaced = await stored(
          missing.seq,
          "CREATE OR REPLACE FUNCTION",
          (e) =>
            e.source === "log" && /emit_ddl_commands/.test(e.statement ?? "") &&
            /BEGIN END/.test(e.statement ?? ""),
        );
        expect.push(["audit_tampering", replaced.seq, "CREATE OR REPLACE FUNCTION vigil.…"]);
        await installPgSide(pg.dsn());

        // 4. Reads and writes no longer logged, for everyone.
        await pg.sql("ALTER SYSTEM SET pgaudit.log = 'ddl'; SELECT pg_reload_conf();");
        const reduced = await stored(
          replaced.seq,
          "AUDIT_REDUCED",
          (e) => e.command === "AUDIT_REDUCED",
        );
        expect.push(["audit_reduced", reduced.seq, "AUDIT_REDUCED"]);
        assertEquals(reduced.context?.critical, true);

        child.kill("SIGTERM");
        assertEquals((await status).code, 0, await stderr);
      } finally {
        if (!exited) child.kill("SIGKILL");
        await status;
      }

      const out = await runVigil(["alerts", "--data", data]);
      assertEquals(out.code, 0, out.stderr);
      const alerts: Alert[] = out.stdout.trim().split("\n").filter((l) => l !== "")
        .map((l) => JSON.parse(l));
      const watched = alerts.filter((a) => WATCHED.has(a.rule));
      const all = await events();
      for (const [rule, seq, what] of expect) {
        assert(
          watched.some((a) => a.rule === rule && a.seqs.includes(seq)),
          `${what} (seq ${seq}) raised ${rule}: ${JSON.stringify(watched)}\n` +
            JSON.stringify(all.find((e) => e.seq === seq)),
        );
      }
      // Nothing before the first bypass: the recommended settings, the install, the workload
      // and pg-install's repairs raise no alert of these rules.
      const first = Math.min(...expect.map(([, seq]) => seq));
      const early = watched.filter((a) => a.seqs.some((s) => s < first));
      assertEquals(early, [], "no alert before the first bypass");
      const repairs = all.filter((e) =>
        e.source === "log" && /^CREATE OR REPLACE FUNCTION vigil\.emit_ddl_commands\(\)/.test(
          e.statement ?? "",
        ) && !/BEGIN END/.test(e.statement ?? "")
      );
      assert(repairs.length > 0, "pg-install's repair was logged by pgAudit");
      for (const r of repairs) {
        assert(!watched.some((a) => a.seqs.includes(r.seq)), `the repair at ${r.seq} alerted`);
      }
    });
  }, {
    pgauditLog: RECOMMENDED_PGAUDIT,
    settings: { "pgaudit.log_catalog": false, "pgaudit.log_statement_once": true },
  });
});
