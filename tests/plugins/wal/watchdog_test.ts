/**
 * The WAL source's watchdog against a real PostgreSQL 15: heartbeats come back through the
 * stream and only move the stored position; a stalled walsender (SIGSTOP) raises one
 * `WAL_HEARTBEAT_MISSING` and, once it runs again, one `WAL_HEARTBEAT_RESTORED`; an event trigger
 * of `vigil pg-install` dropped, disabled or not ENABLE ALWAYS, a function of it replaced, or a
 * table's statement trigger dropped or turned down raises one `WAL_DDL_TRIGGER_MISSING`, at start as
 * well as while running.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { installPgSide } from "../../../daemon/pg/install.ts";
import { walSource, type WalSourceConfig } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { confirmedFlush, MemoryStore, type Running, startRun } from "./_source_harness.ts";

const SLOT = "vigil_watch";
const FAST: Partial<WalSourceConfig> = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 };

const alarms = (mem: MemoryStore, command: string): NewEvent[] =>
  mem.events.filter((e) => e.kind === "system" && e.command === command);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function start(pg: PgCluster, mem: MemoryStore, more: Partial<WalSourceConfig> = {}) {
  const config = { dsn: pg.dsn(), slot: SLOT, publication: SLOT, ...FAST, ...more };
  const run = startRun(walSource(config), (signal) => mem.context("billing", signal));
  await assertEventually(async () => (await confirmedFlush(pg, SLOT)) !== undefined);
  return run;
}

async function stopOk(run: Running): Promise<void> {
  await run.stop();
  assertEquals(run.result(), "ok");
}

Deno.test("walSource() heartbeats: missing once while the walsender is stopped, then restored", async () => {
  await using pg = await startPostgres();
  const mem = new MemoryStore();
  const run = await start(pg, mem);
  let walsender: number | undefined;
  try {
    // Heartbeats come back and move the position, but are no events of their own.
    const offered = mem.offered.length;
    await assertEventually(() => mem.offered.length >= offered + 3, {
      message: "heartbeat positions stored",
    });
    assertEquals(mem.events.length, 0);

    walsender = Number(
      await pg.sql(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${SLOT}'`),
    );
    Deno.kill(walsender, "SIGSTOP");
    const missing = await assertEventually(() => alarms(mem, "WAL_HEARTBEAT_MISSING")[0], {
      message: "WAL_HEARTBEAT_MISSING stored",
    });
    assert(missing.error!.includes(`slot "${SLOT}" within 1000 ms`), missing.error);
    assertEquals(missing.context?.slot, SLOT);
    await sleep(1000); // Five more heartbeats go missing: still one alarm for the incident.
    assertEquals(alarms(mem, "WAL_HEARTBEAT_MISSING").length, 1);
    assertEquals(alarms(mem, "WAL_HEARTBEAT_RESTORED"), []);

    Deno.kill(walsender, "SIGCONT");
    walsender = undefined;
    const restored = await assertEventually(() => alarms(mem, "WAL_HEARTBEAT_RESTORED")[0], {
      message: "WAL_HEARTBEAT_RESTORED stored",
    });
    assertEquals(restored.context?.missing_seq, missing.context?.heartbeat_seq);
    assertEquals(restored.error, undefined);
    await sleep(500);
    assertEquals(alarms(mem, "WAL_HEARTBEAT_MISSING").length, 1);
    assertEquals(mem.events.filter((e) => e.command === "vigil.heartbeat"), []);
  } finally {
    if (walsender !== undefined) Deno.kill(walsender, "SIGCONT");
    await stopOk(run);
  }
});

Deno.test("walSource() raises WAL_DDL_TRIGGER_MISSING once per incident: a trigger dropped, disabled, not ALWAYS, a function replaced", async () => {
  await using pg = await startPostgres();
  await installPgSide(pg.dsn());
  const mem = new MemoryStore();
  // Checks at every heartbeat; no heartbeat alarm however slow a loaded machine is.
  const watch = { triggerCheckHeartbeats: 1, heartbeatTimeoutMs: 60_000 };
  let run = await start(pg, mem, watch);
  await sleep(600); // A few checks of an intact install: no alarm.
  assertEquals(mem.events.filter((e) => e.kind === "system"), []);
  await stopOk(run);

  // Removed while the source was stopped: the first check at start sees it.
  await pg.sql("DROP EVENT TRIGGER vigil_sql_drop");
  run = await start(pg, mem, watch);
  try {
    const [dropped] = await assertEventually(() => {
      const found = alarms(mem, "WAL_DDL_TRIGGER_MISSING");
      return found.length > 0 && found;
    });
    assertEquals(dropped!.context?.problems, ["vigil_sql_drop is gone"]);
    assert(dropped!.error!.includes("run vigil pg-install again"), dropped!.error);
    await sleep(600);
    assertEquals(alarms(mem, "WAL_DDL_TRIGGER_MISSING").length, 1, "once, not every check");

    // Put back, then disabled while running: a new incident.
    await installPgSide(pg.dsn());
    await sleep(400);
    await pg.sql("ALTER EVENT TRIGGER vigil_ddl_command_end DISABLE");
    const disabled = await assertEventually(() => alarms(mem, "WAL_DDL_TRIGGER_MISSING")[1]);
    assertEquals(disabled.context?.problems, ["vigil_ddl_command_end is disabled"]);

    // The bypasses of issue 15, each its own incident: a trigger ENABLE REPLICA (or ENABLE,
    // origin only), a function with another body, a table's statement trigger turned down.
    await installPgSide(pg.dsn());
    await pg.sql("CREATE TABLE accounts (id int)");
    const cases: [string, string][] = [
      [
        "ALTER EVENT TRIGGER vigil_ddl_command_end ENABLE REPLICA",
        "vigil_ddl_command_end fires only in replica sessions (ENABLE REPLICA): it must be ENABLE ALWAYS",
      ],
      [
        "ALTER EVENT TRIGGER vigil_sql_drop ENABLE",
        "vigil_sql_drop fires only in origin sessions (ENABLE), not in replica ones: it must be ENABLE ALWAYS",
      ],
      [
        `CREATE OR REPLACE FUNCTION vigil.emit_ddl_commands() RETURNS event_trigger
          LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ BEGIN END $$`,
        "function vigil.emit_ddl_commands() was replaced: its body or settings differ",
      ],
      [
        "ALTER TABLE accounts ENABLE TRIGGER vigil_stmt",
        "1 table(s) without an ENABLE ALWAYS vigil_stmt trigger: public.accounts (state O)",
      ],
      [
        "DROP TRIGGER vigil_stmt ON accounts",
        "1 table(s) without an ENABLE ALWAYS vigil_stmt trigger: public.accounts (none)",
      ],
    ];
    for (const [i, [sql, problem]] of cases.entries()) {
      await installPgSide(pg.dsn());
      await pg.sql(sql);
      const alarm = await assertEventually(() => alarms(mem, "WAL_DDL_TRIGGER_MISSING")[2 + i], {
        message: `an alarm for: ${sql}`,
      });
      assertEquals(alarm.context?.problems, [problem]);
    }
  } finally {
    await stopOk(run);
  }
});
