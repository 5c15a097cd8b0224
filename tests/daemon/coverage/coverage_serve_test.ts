/**
 * The coverage cross-check in a real `vigil serve` watching a real PostgreSQL 15 through its WAL
 * and its pgAudit log: a superuser session that turns pgAudit off and updates a table raises a
 * coverage alarm, in the chain and as an alert, naming the transaction, the table and the
 * session's role, while the logged updates around it raise none; DDL that one channel misses is
 * an alarm; and a log that goes quiet while the WAL shows writes is one.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { withPostgres } from "../../support/postgres.ts";
import { alarms, installBoth, nudgeUntil, query, withServingBoth } from "./_serve.ts";

Deno.test("a superuser session that turns pgAudit off and updates a table raises a coverage alarm naming xid, table and role", async () => {
  await withPostgres(async (pg) => {
    await pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, owner text)");
    await pg.sql("INSERT INTO accounts SELECT g, 'o' || g FROM generate_series(1, 10) g");
    await installBoth(pg);
    await withServingBoth(pg, ["coverage_wait_seconds = 1"], async (data) => {
      // Logged writes first: an autocommit update (pgAudit logs it with xid 0) and a
      // transaction of two updates.
      const logged = [
        await pg.sql(
          "UPDATE accounts SET owner = 'a' WHERE id = 1 RETURNING xid(pg_current_xact_id())",
        ),
        await pg.sql(
          "BEGIN; UPDATE accounts SET owner = 'b' WHERE id = 2; " +
            "UPDATE accounts SET owner = 'c' WHERE id = 3 RETURNING xid(pg_current_xact_id()); COMMIT",
        ),
      ].map(Number);
      const hidden = Number(
        await pg.sql(
          "SET pgaudit.log = 'none'; " +
            "UPDATE accounts SET owner = 'mallory' WHERE id = 4 RETURNING xid(pg_current_xact_id())",
        ),
      );
      const gaps = await nudgeUntil(pg, async () => {
        const found = await alarms(data, "COVERAGE_GAP");
        return found.length > 0 ? found : undefined;
      }, "no coverage alarm for the update pgAudit did not log");
      assertEquals(gaps.length, 1, JSON.stringify(gaps));
      const gap = gaps[0]!;
      assertEquals([gap.kind, gap.xid, gap.role, gap.db], [
        "system",
        hidden,
        "postgres",
        "postgres",
      ]);
      assert(gap.error!.includes("public.accounts"), gap.error);
      assert(gap.error!.includes(`transaction ${hidden}`), gap.error);
      assert(gap.error!.includes("pgaudit.log was 'none' in the session"), gap.error);
      assert(!logged.includes(hidden));
      // The statement message that carried the attribution is in the chain too.
      const stmts = await query(data, ["--command", "STATEMENT"]);
      const mine = stmts.find((s) => s.xid === hidden)!;
      assertEquals([mine.role, mine.object, mine.application_name], [
        "postgres",
        "public.accounts",
        "vigil-test",
      ]);
      assert(mine.statement!.includes("mallory"), mine.statement);
      for (const xid of logged) {
        assert(stmts.some((s) => s.xid === xid), `no statement of ${xid}`);
      }
    }, async (data) => {
      const a = await runVigil(["alerts", "--data", data]);
      assertEquals(a.code, 0, a.stderr);
      const coverage = a.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
        .filter((x) => x.rule.startsWith("coverage"));
      assertEquals(coverage.length, 1, a.stdout);
      assertEquals([coverage[0].role, coverage[0].severity], ["postgres", "critical"]);
    });
  });
});

Deno.test("DDL that only one channel shows raises a coverage alarm, each way", async () => {
  await withPostgres(async (pg) => {
    await installBoth(pg);
    await withServingBoth(pg, ["coverage_wait_seconds = 1"], async (data) => {
      // Logged in both: no alarm.
      await pg.sql("CREATE TABLE both_channels (a int)");
      // pgAudit without the ddl class in the session: only the WAL's event trigger sees it.
      await pg.sql("SET pgaudit.log = 'write'; CREATE TABLE only_wal (a int)");
      // The event trigger disabled: only pgAudit sees it.
      await pg.sql(
        "ALTER EVENT TRIGGER vigil_ddl_command_end DISABLE; CREATE TABLE only_log (a int); " +
          "ALTER EVENT TRIGGER vigil_ddl_command_end ENABLE ALWAYS",
      );
      const found = await nudgeUntil(pg, async () => {
        const ddl = await alarms(data, "COVERAGE_DDL");
        return ddl.length >= 2 ? ddl : undefined;
      }, "no alarm for DDL in one channel");
      const said = found.map((e) => e.error!).sort();
      assertEquals(said.length, 2, said.join("\n"));
      assert(said[0]!.includes("in the WAL but not in the pgAudit log"), said[0]);
      assert(said[0]!.includes("only_wal"), said[0]);
      assert(said[1]!.includes("in the pgAudit log but not in the WAL"), said[1]);
      assert(said[1]!.includes("only_log"), said[1]);
      assert(!said.some((s) => s.includes("both_channels")), said.join("\n"));
    });
  });
});

Deno.test("a pgAudit log that goes quiet while the WAL shows writes raises a coverage alarm", async () => {
  await withPostgres(async (pg) => {
    await pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, owner text)");
    await pg.sql("INSERT INTO accounts VALUES (1, 'a')");
    await installBoth(pg);
    const detect = ["coverage_wait_seconds = 1", "coverage_quiet_minutes = 0.05"];
    await withServingBoth(pg, detect, async (data) => {
      await pg.sql("UPDATE accounts SET owner = 'b' WHERE id = 1");
      await pg.sql(
        "ALTER SYSTEM SET pgaudit.log = 'none'; ALTER SYSTEM SET log_connections = off; " +
          "ALTER SYSTEM SET log_disconnections = off; SELECT pg_reload_conf()",
      );
      // Writes go on; the log says nothing more about this database.
      const quiet = await assertEventually(async () => {
        await pg.sql("UPDATE accounts SET owner = owner || 'x' WHERE id = 1");
        const q = await alarms(data, "COVERAGE_QUIET");
        return q.length > 0 ? q : undefined;
      }, { timeoutMs: 90_000, intervalMs: 300, message: "no alarm for the quiet log" });
      assertEquals(quiet.length, 1);
      assertEquals(quiet[0]!.db, "postgres");
      assert(quiet[0]!.error!.includes("pgAudit log of database postgres is quiet"));
    });
  });
});
