/**
 * A real `vigil serve` watching one throwaway PostgreSQL through both channels: a WAL source
 * and a pgAudit source (csvlog) on the same database, with what `pg-install` puts there (the
 * statement triggers that attribute each write). For the coverage and attribution tests.
 */

import { installPgSide } from "../../../daemon/pg/install.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEventually } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import type { PgCluster } from "../../support/postgres.ts";

/** Installs the PostgreSQL side: event triggers and a statement trigger on every table. */
export async function installBoth(pg: PgCluster): Promise<void> {
  await installPgSide(pg.dsn());
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
