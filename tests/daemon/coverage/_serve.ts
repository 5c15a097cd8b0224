/**
 * A real `vigil serve` watching one throwaway PostgreSQL through both channels: a WAL source
 * and a pgAudit source (csvlog) on the same database, with what `pg-install` puts there (the
 * statement triggers that attribute each write). For the coverage and attribution tests.
 */

import { installPgSide } from "../../../daemon/pg/install.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assertEventually } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import type { PgCluster } from "../../support/postgres.ts";
import { startServe } from "../../support/serve_child.ts";
import { withTempDir } from "../../support/store.ts";

/** Installs the PostgreSQL side: event triggers and a statement trigger on every table. */
export async function installBoth(pg: PgCluster): Promise<void> {
  await installPgSide(pg.dsn());
}

/** The config of a serve with both channels of `pg`'s postgres database. */
function bothChannels(pg: PgCluster, data: string, detect: string[] = []): string {
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

/**
 * Serves both channels of `pg` (config `detect` lines, data in a temp dir): runs `whileServing`
 * once the WAL source streams, stops serve (which must exit cleanly), then runs `afterStop`
 * before the temp dir goes.
 */
export async function withServingBoth(
  pg: PgCluster,
  detect: string[],
  whileServing: (data: string) => Promise<void>,
  afterStop: (data: string) => Promise<void> = async () => {},
): Promise<void> {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(file, bothChannels(pg, data, detect));
    const serving = await startServe(file);
    try {
      await walStreaming(pg, data);
      await whileServing(data);
    } finally {
      await serving.stop();
    }
    await afterStop(data);
  });
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

/** Coverage alarms in the chain, as `vigil query` finds them. */
export async function alarms(data: string, command: string): Promise<AuditEvent[]> {
  return await query(data, ["--source", "vigil-coverage", "--command", command]);
}

/**
 * Runs a logged statement that also writes a message into the WAL (moving both channels' time
 * on) until `check` finds what it waits for: the cross-check judges only once the other
 * channel has moved past the evidence.
 */
export async function nudgeUntil<T>(
  pg: PgCluster,
  check: () => Promise<T | undefined>,
  message: string,
): Promise<T> {
  return await assertEventually(async () => {
    await pg.sql("SELECT pg_logical_emit_message(true, 'vigil.nudge', '')");
    return await check();
  }, { timeoutMs: 90_000, intervalMs: 300, message }) as T;
}
