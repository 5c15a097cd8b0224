/**
 * Secrets in DDL never reach the store through the WAL source: `CREATE SERVER` and `CREATE/ALTER
 * USER MAPPING … OPTIONS (password '…')`, captured by `vigil pg-install`'s event triggers, are
 * stored redacted (`redacted: true`) by the pipeline, with the built-in rules and with a
 * `redact` pattern of the source's own table — against a real PostgreSQL 15, through the same
 * `runSource` and store as `vigil serve`. The log's bytes on disk are searched for the secrets.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { installPgSide } from "../../../daemon/pg/install.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { sourcePlugin } from "../../../plugins/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { confirmedFlush } from "./_source_harness.ts";

const SECRETS = ["srv-secret-1", "hunter2", "hunter3", "tok-secret-9"];

const DDL = `CREATE FOREIGN DATA WRAPPER vigil_test_fdw;
CREATE SERVER remote FOREIGN DATA WRAPPER vigil_test_fdw OPTIONS (host 'db2', password 'srv-secret-1');
CREATE USER MAPPING FOR postgres SERVER remote OPTIONS (user 'bob', password 'hunter2');
ALTER USER MAPPING FOR postgres SERVER remote OPTIONS (SET password 'hunter3');
COMMENT ON SERVER remote IS 'api_token=tok-secret-9';
CREATE TABLE done_marker (id int);`;

/** Runs a WAL source built from `extra` keys of its table until the marker table's DDL is in. */
async function collect(
  pg: PgCluster,
  dir: string,
  slot: string,
  extra: Record<string, unknown>,
): Promise<{ events: AuditEvent[]; gauges: Map<string, number> }> {
  const table = { name: "billing", type: "wal", dsn: pg.dsn(), slot, publication: slot, ...extra };
  const plugin = sourcePlugin("wal");
  plugin.validate(table);
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  const ac = new AbortController();
  const gauges = new Map<string, number>();
  const running = runSource(store, plugin.create(table), {
    name: "billing",
    signal: ac.signal,
    gauge: (name, value) => gauges.set(name, value),
  });
  let failed: unknown;
  running.catch((e) => (failed = e));
  const events: AuditEvent[] = [];
  try {
    await assertEventually(async () => {
      if (failed !== undefined) throw failed;
      return (await confirmedFlush(pg, slot)) !== undefined;
    }, { message: "the slot made" });
    await pg.sql(DDL);
    await assertEventually(async () => {
      if (failed !== undefined) throw failed;
      events.length = 0;
      for await (const r of readLog(dir)) events.push(r.event);
      return events.some((e) => e.object === "public.done_marker");
    }, { timeoutMs: 30_000, message: "the marker DDL stored" });
  } finally {
    ac.abort();
    await running.catch(() => {});
    await store.close();
  }
  return { events, gauges };
}

/** Every byte under `dir`, as latin1 text, to search for what must not be there. */
async function allBytes(dir: string): Promise<string> {
  let out = "";
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out += await allBytes(path);
    else if (e.isFile) out += new TextDecoder("latin1").decode(await Deno.readFile(path));
  }
  return out;
}

Deno.test("WAL source: passwords of CREATE SERVER and CREATE/ALTER USER MAPPING are stored redacted", async () => {
  await using pg = await startPostgres();
  await installPgSide(pg.dsn());
  await withTempDir(async (dir) => {
    const { events, gauges } = await collect(pg, dir, "vigil_redact", {});
    const ddl = (command: string): AuditEvent => {
      const ev = events.find((e) => e.kind === "ddl" && e.command === command);
      assert(ev !== undefined, `no ${command} event in ${JSON.stringify(events)}`);
      return ev;
    };
    const mapping = ddl("CREATE USER MAPPING");
    assertEquals(
      mapping.statement,
      "CREATE USER MAPPING FOR postgres SERVER remote OPTIONS (user 'bob', password <REDACTED>);",
    );
    assertEquals(mapping.redacted, true);
    assertEquals(
      ddl("ALTER USER MAPPING").statement,
      "ALTER USER MAPPING FOR postgres SERVER remote OPTIONS (SET password <REDACTED>);",
    );
    assertEquals(ddl("ALTER USER MAPPING").redacted, true);
    assertEquals(ddl("CREATE SERVER").redacted, true);
    assertEquals(ddl("CREATE TABLE").redacted, undefined, "nothing to redact, no flag");
    const onDisk = await allBytes(dir);
    for (const secret of ["srv-secret-1", "hunter2", "hunter3"]) {
      assert(!onDisk.includes(secret), `${secret} is in the data directory`);
    }
    assertEquals(gauges.get("redacted_events"), 3, "counted by the pipeline");
  });
});

Deno.test("WAL source: a `redact` pattern of its own table redacts as it does for pgAudit", async () => {
  await using pg = await startPostgres();
  await installPgSide(pg.dsn());
  await withTempDir(async (dir) => {
    const { events } = await collect(pg, dir, "vigil_redact_own", {
      redact: ["api_token=(?<secret>[^'\\s]+)"],
    });
    const comment = events.find((e) => e.command === "COMMENT");
    assertEquals(comment?.statement, "COMMENT ON SERVER remote IS 'api_token=<REDACTED>';");
    assertEquals(comment?.redacted, true);
    const onDisk = await allBytes(dir);
    for (const secret of SECRETS) assert(!onDisk.includes(secret), `${secret} is on disk`);
  });
});
