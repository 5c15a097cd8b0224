/**
 * A real `vigil serve` watching one throwaway PostgreSQL through both channels: a WAL source
 * and a pgAudit source (csvlog) on the same database, with the statement triggers that
 * `pg-install` puts on watched tables. For the coverage and attribution tests.
 */

import { installPgSide } from "../../../daemon/pg/install.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEventually } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import type { PgCluster } from "../../support/postgres.ts";

/**
 * The statement trigger of `pg-install` (its `vigil.stmt` contract), for the tables given:
 * one transactional message per statement with the session's identity.
 */
export const STMT_TRIGGER_SQL = `
CREATE OR REPLACE FUNCTION vigil.emit_statement() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  vx text;
  started timestamptz;
BEGIN
  SELECT l.virtualtransaction INTO vx FROM pg_locks l
   WHERE l.locktype = 'virtualxid' AND l.pid = pg_backend_pid()
     AND l.virtualxid = l.virtualtransaction;
  SELECT a.backend_start INTO started FROM pg_stat_get_activity(pg_backend_pid()) a;
  PERFORM pg_logical_emit_message(true, 'vigil.stmt', json_build_object(
    'v', 1, 'pid', pg_backend_pid(), 'vxid', vx, 'xid', xid(pg_current_xact_id())::text,
    'session_id', to_hex(trunc(extract(epoch FROM started))::bigint) || '.' ||
      to_hex(pg_backend_pid()),
    'role', session_user, 'current_user', current_user,
    'client_addr', host(inet_client_addr()), 'client_port', inet_client_port(),
    'application_name', current_setting('application_name'),
    'statement', current_query(), 'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME,
    'op', TG_OP,
    'stmt_ts', to_char(statement_timestamp() AT TIME ZONE 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text);
  RETURN NULL;
END $$;
`;

/** Puts the statement trigger on `table`, ENABLE ALWAYS. */
export function stmtTriggerOn(table: string): string {
  return `CREATE TRIGGER vigil_stmt AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table} ` +
    `FOR EACH STATEMENT EXECUTE FUNCTION vigil.emit_statement();\n` +
    `ALTER TABLE ${table} ENABLE ALWAYS TRIGGER vigil_stmt;\n`;
}

/** Installs the PostgreSQL side and the statement triggers on `tables`. */
export async function installBoth(pg: PgCluster, tables: string[]): Promise<void> {
  await installPgSide(pg.dsn());
  const has = await pg.sql(
    "SELECT count(*) FROM pg_proc WHERE proname = 'emit_statement' AND " +
      "pronamespace = 'vigil'::regnamespace",
  );
  if (has === "0") await pg.sql(STMT_TRIGGER_SQL);
  for (const t of tables) {
    const on = await pg.sql(
      `SELECT count(*) FROM pg_trigger WHERE tgname = 'vigil_stmt' AND tgrelid = '${t}'::regclass`,
    );
    if (on === "0") await pg.sql(stmtTriggerOn(t));
  }
}

/** The config of a serve with both channels of `pg`'s postgres database. */
export function bothChannels(pg: PgCluster, data: string, detect: string[] = []): string {
  return [
    `data_dir = "${data}"`,
    "[web]",
    'listen = "127.0.0.1:0"',
    "[detect]",
    ...detect,
    "[[sources]]",
    'name = "shop-wal"',
    'type = "wal"',
    `dsn = "${pg.dsn()}"`,
    'slot = "vigil_shop"',
    'publication = "vigil_shop"',
    "heartbeat_interval_ms = 200",
    "[[sources]]",
    'name = "shop-log"',
    'type = "pgaudit"',
    `path = "${pg.logDir}/*.csv"`,
    'format = "csvlog"',
    "",
  ].join("\n");
}

/** A running `vigil serve`; `stop()` ends it with SIGTERM and checks it exited cleanly. */
export interface Serving {
  lines: string[];
  stop(): Promise<void>;
}

/** Starts `vigil serve --config file` and waits until it serves. */
export async function serve(file: string): Promise<Serving> {
  const child = spawnVigil(["serve", "--config", file]);
  await child.stdin.close();
  const lines: string[] = [];
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      lines.push(...chunk.split("\n"));
    }
  })();
  const stdout = child.stdout.cancel();
  let exited = false;
  const status = child.status.finally(() => (exited = true));
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    const s = await status;
    await reading;
    await stdout;
    assert(s.code === 0, `serve exited ${s.code}:\n${lines.join("\n")}`);
  };
  try {
    await assertEventually(() => {
      assert(!exited, `serve exited:\n${lines.join("\n")}`);
      return lines.some((l) => l.includes('"vigil serving"'));
    }, { timeoutMs: 60_000, intervalMs: 100, message: "serve never started" });
  } catch (e) {
    if (!exited) child.kill("SIGKILL");
    await status;
    throw e;
  }
  return { lines, stop };
}

/**
 * Waits until the WAL source streams: its slot exists from its first start only, and what was
 * committed before is not in it. A `vigil.ready` message in the WAL shows it.
 */
export async function walStreaming(pg: PgCluster, data: string): Promise<void> {
  await assertEventually(async () => {
    await pg.sql("SELECT pg_logical_emit_message(true, 'vigil.ready', 'x')");
    return (await query(data, ["--command", "vigil.ready", "--limit", "1"])).length > 0;
  }, { timeoutMs: 60_000, intervalMs: 200, message: "the WAL source never streamed" });
}

/** Every stored event matching `args` (`vigil query` flags). */
export async function query(data: string, args: string[]): Promise<AuditEvent[]> {
  const q = await runVigil(["query", "--data", data, ...args]);
  if (q.code !== 0) throw new Error(`vigil query failed: ${q.stderr}`);
  return q.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditEvent);
}
