/**
 * "Test connection" for a WAL source: logs in with the source's own client, as the source
 * would (same DSN, same password file, same TLS settings, the same refusal to hand a password
 * to an unverified server), and reports what it needs from the server — version, `wal_level =
 * logical`, a role allowed to replicate, its slot and publication (created on first start when
 * missing), TLS — then opens a replication connection and runs IDENTIFY_SYSTEM, which is where
 * a pg_hba.conf without a `replication` line fails. It never creates or changes anything on the
 * server, and gives up after a timeout.
 *
 * It reaches only what the configured source could, and tells no more than that it could not:
 * until something that speaks PostgreSQL answers, every failure — refused, filtered, closed,
 * TLS refused, an SSH or HTTP banner — is the same line, given at the same moment (the end of
 * the connect window), so that the probe of a DSN pointed at an arbitrary port of the box
 * cannot tell an open port from a closed one, nor what listens there. Details stay in the
 * source's own log when it runs.
 */

import { connectReplication } from "./replication.ts";
import { quoteLiteral } from "./replication_command.ts";
import { walConfigFromTable } from "./source_config.ts";
import {
  connect,
  type ConnectOptions,
  NoServerError,
  parseDsn,
  type PgConnection,
} from "../../daemon/pgwire/mod.ts";

/** What a probe found: whether the source can run, and one line per finding. */
export interface ProbeResult {
  ok: boolean;
  lines: string[];
}

/** Default time allowed for the whole probe. */
export const WAL_PROBE_TIMEOUT_MS = 10_000;
/** Default time a server has to answer; a failure before it answers is told at its end. */
export const WAL_PROBE_CONNECT_MS = 5_000;

/** Probes a `[[sources]]` table of `type = "wal"`; never throws for a server's answer. */
export async function probeWal(
  table: Readonly<Record<string, unknown>>,
  opts: { timeoutMs?: number; connectMs?: number } = {},
): Promise<ProbeResult> {
  const started = performance.now();
  const lines: string[] = [];
  let target: ConnectOptions;
  let slot: string;
  let publication: string;
  try {
    const settings = walConfigFromTable(table);
    ({ slot, publication } = settings);
    target = parseDsn(settings.dsn);
  } catch (error) {
    return { ok: false, lines: [`configuration: ${message(error)}`] };
  }
  const timeoutMs = opts.timeoutMs ?? WAL_PROBE_TIMEOUT_MS;
  const connectMs = Math.min(opts.connectMs ?? WAL_PROBE_CONNECT_MS, timeoutMs);
  target = { ...target, connectTimeoutMs: Math.min(target.connectTimeoutMs, connectMs) };
  const where = target.host.startsWith("/") ? target.host : `${target.host}:${target.port}`;
  lines.push(`server ${where}, database ${target.database}, user ${target.user}`);

  let ok = true;
  const fail = (line: string): void => {
    ok = false;
    lines.push(line);
  };
  const opened: PgConnection[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // The login has a time limit of its own, the connect window; only past it does the rest run
    // against the probe's: a silent port must time out as a closed one is told, not sooner.
    const conn = await connect({ ...target, applicationName: "vigil-probe" });
    opened.push(conn);
    // A server that accepts the login and then stalls must not hold the admin's page forever.
    const left = Math.max(0, timeoutMs - (performance.now() - started));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        for (const c of opened) c.abort();
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, left);
    });
    await Promise.race([
      timeout,
      (async () => {
        const { rows } = await conn.query(checksQuery(slot, publication));
        const [version, walLevel, replication, slotState, pubExists, ssl] = rows[0] ?? [];
        await conn.close();
        lines.push(`PostgreSQL ${version ?? "?"}`);
        lines.push(`TLS: ${ssl === "t" ? "in use" : "not in use"} (sslmode=${target.sslmode})`);
        if (walLevel === "logical") lines.push("wal_level: logical");
        else fail(`wal_level is ${walLevel ?? "?"}: it must be logical (then restart the server)`);
        if (replication === "t") lines.push(`role ${target.user} may replicate`);
        else fail(`role ${target.user} lacks REPLICATION: ALTER ROLE ... WITH REPLICATION`);
        if (slotState === null || slotState === undefined) {
          lines.push(`slot ${slot}: missing; the source creates it on start`);
        } else if (slotState === "logical pgoutput") lines.push(`slot ${slot}: exists`);
        else fail(`slot ${slot} exists but is ${slotState}, not a logical pgoutput slot`);
        lines.push(
          pubExists === "t"
            ? `publication ${publication}: exists`
            : `publication ${publication}: missing; the source creates it FOR ALL TABLES on start`,
        );
        const repl = await connectReplication({ ...target, applicationName: "vigil-probe" });
        opened.push(repl.connection);
        try {
          const id = await repl.identifySystem();
          lines.push(
            `replication connection: system ${id.systemId}, timeline ${id.timeline}, ` +
              `database ${id.dbName ?? "(none)"}`,
          );
        } finally {
          await repl.connection.close();
        }
      })(),
    ]);
  } catch (error) {
    if (error instanceof NoServerError) {
      // Told at the end of the connect window, whatever happened before it: see the module doc.
      await delay(started + target.connectTimeoutMs - performance.now());
      fail(noServer(where, error));
    } else fail(`failed: ${message(error)}`);
  } finally {
    clearTimeout(timer);
    for (const c of opened) c.abort();
  }
  return { ok, lines };
}

/** One row: version, wal_level, may-replicate, slot state, publication exists, TLS. */
function checksQuery(slot: string, publication: string): string {
  return `SELECT current_setting('server_version'), current_setting('wal_level'),
    (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),
    (SELECT slot_type || ' ' || coalesce(plugin, '') FROM pg_replication_slots
      WHERE slot_name = ${quoteLiteral(slot)}),
    EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ${quoteLiteral(publication)}),
    coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)`;
}

/** The one line for a server that did not answer; a missing permission is worth saying. */
function noServer(where: string, error: NoServerError): string {
  const capable = (e: unknown): boolean =>
    e instanceof Deno.errors.NotCapable || (e instanceof Error && capable(e.cause));
  if (capable(error)) {
    return `failed: cannot connect to ${where}: the daemon may not reach it yet (its network ` +
      "permissions are derived from the configuration at start: restart the service)";
  }
  return `failed: cannot connect to ${where}: no PostgreSQL server answered`;
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
