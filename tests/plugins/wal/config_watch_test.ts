/**
 * The WAL source's read-back of the audit configuration against a real PostgreSQL 15 with
 * pgAudit, stored in a real store: a `PG_CONFIG` reading at start; options that only reshape
 * pgAudit's output (log_catalog off, log_statement_once on) recorded as `PG_CONFIG_CHANGED`,
 * never as a reduction; classes dropped globally or for one role, and
 * `session_replication_role = replica` for a database, `AUDIT_REDUCED` (critical); and a
 * change made while the source was stopped seen at its next start, from the saved reading.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { installPgSide } from "../../../daemon/pg/install.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { Store } from "../../../daemon/store/store.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { walSource } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

const SLOT = "vigil_cfg";

interface Change {
  item: string;
  before: string | null;
  after: string | null;
  effect: string;
  critical: boolean;
}

Deno.test("walSource() reads back the audit configuration: snapshot, shape-only changes, reductions, changes while stopped", async () => {
  await using pg = await startPostgres();
  await installPgSide(pg.dsn());
  await pg.sql("CREATE ROLE alice LOGIN");
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    const config = {
      dsn: pg.dsn(),
      slot: SLOT,
      publication: SLOT,
      configCheckIntervalMs: 100,
    };
    const events = async (): Promise<NewEvent[]> => {
      if (failure) throw failure;
      const out: NewEvent[] = [];
      for await (const r of readLog(dir)) if (r.event.kind === "system") out.push(r.event);
      return out;
    };
    const commands = async () => (await events()).map((e) => e.command);
    let failure: unknown;
    const start = () => {
      const ac = new AbortController();
      const running = runSource(store, walSource(config), { name: "wal", signal: ac.signal });
      running.catch((e) => (failure = e));
      return { stop: async () => (ac.abort(), await running) };
    };
    let run: { stop(): Promise<void> } | undefined;
    /** Waits for the `n`th event (from 1) with `command`. */
    const nth = (command: string, n: number) =>
      assertEventually(async () => (await events()).filter((e) => e.command === command)[n - 1], {
        message: `${command} number ${n} stored`,
      });
    const changes = (ev: NewEvent) => ev.context!.changes as unknown as Change[];
    try {
      run = start();
      const first = await nth("PG_CONFIG", 1);
      const reading = first.context!.reading as Record<string, Record<string, unknown>>;
      assertEquals(reading.settings!["pgaudit.log"], "all");
      assertEquals(reading.settings!["log_connections"], "on");
      assertEquals(reading.install!.problems, []);
      assertEquals(reading.install!.event_triggers, {
        vigil_attach_new_tables: "A",
        vigil_ddl_command_end: "A",
        vigil_sql_drop: "A",
      });
      assertEquals(first.context!.reading!, reading);

      // What guides recommend: recorded, not an alarm.
      await pg.sql(`ALTER SYSTEM SET pgaudit.log_catalog = off;
        ALTER SYSTEM SET pgaudit.log_statement_once = on; SELECT pg_reload_conf();`);
      const shaped = await nth("PG_CONFIG_CHANGED", 1);
      assertEquals(changes(shaped).map((c) => [c.item, c.before, c.after, c.effect]), [
        ["pgaudit.log_catalog", "on", "off", "shape"],
        ["pgaudit.log_statement_once", "off", "on", "shape"],
      ]);
      await nth("PG_CONFIG", 2);
      assertEquals((await commands()).includes("AUDIT_REDUCED"), false);

      // Reads and writes no longer logged: critical.
      await pg.sql("ALTER SYSTEM SET pgaudit.log = 'ddl, role'; SELECT pg_reload_conf();");
      const global = await nth("AUDIT_REDUCED", 1);
      assertEquals(changes(global).map((c) => [c.item, c.before, c.after, c.effect, c.critical]), [
        ["pgaudit.log", "all", "ddl, role", "reduced", true],
      ]);
      assertEquals(global.context!.critical, true);
      assert(global.error!.includes("pgAudit no longer logs read, write, function"), global.error);

      // One role excluded: its own value below the global one.
      await pg.sql("ALTER ROLE alice SET pgaudit.log = 'none'");
      const role = await nth("AUDIT_REDUCED", 2);
      assertEquals(changes(role).map((c) => [c.item, c.before, c.after, c.critical]), [
        ["role alice: pgaudit.log", null, "none", true],
      ]);

      // A class added is no reduction.
      await pg.sql("ALTER ROLE alice SET pgaudit.log = 'ddl, role, write'");
      const added = await nth("PG_CONFIG_CHANGED", 2);
      assertEquals(changes(added).map((c) => [c.item, c.effect]), [
        ["role alice: pgaudit.log", "other"],
      ]);
      await nth("PG_CONFIG", 5);
      await run.stop();

      // While the source is stopped: connection logging off, and triggers skipped in a database.
      await pg.sql(`ALTER SYSTEM SET log_connections = off; SELECT pg_reload_conf();
        ALTER DATABASE postgres SET session_replication_role = replica;`);
      run = start();
      const stopped = await nth("AUDIT_REDUCED", 3);
      assertEquals(stopped.context!.while_stopped, true);
      const items = changes(stopped).filter((c) => c.effect === "reduced").map((c) => c.item);
      assertEquals(items, [
        "log_connections",
        "database postgres: session_replication_role",
        "Vigil session: session_replication_role",
      ]);
      assertEquals(stopped.context!.critical, true);
      await nth("PG_CONFIG", 6);
      await run.stop();

      // A start with nothing changed stores the snapshot and no change.
      run = start();
      await nth("PG_CONFIG", 7);
      await run.stop();
      run = undefined;
      assertEquals((await commands()).filter((c) => c === "AUDIT_REDUCED").length, 3);
      assertEquals((await commands()).filter((c) => c === "PG_CONFIG_CHANGED").length, 2);
    } finally {
      await run?.stop().catch(() => {});
      await store.close();
    }
  });
});
