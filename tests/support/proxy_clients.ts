/**
 * What the proxy's real-client tests share: a throwaway PostgreSQL 15 with password logins and a
 * real `vigil serve` whose proxy source forwards to it, the DSN a client uses to reach it
 * through the proxy, the events of one client session, and a wait that returns the stored
 * events only once every session the proxy opened is closed in the log (so a test never
 * compares with a record still being written).
 */

import type { AuditEvent } from "../../daemon/event/model.ts";
import {
  type ProxyMode,
  type ProxyServe,
  startProxyServe,
} from "../../plugins/proxy/bench/proxy_serve.ts";
import { assertEventually } from "./assert.ts";
import { type PgCluster, startPostgres } from "./postgres.ts";
import { makeTestCerts } from "./test_ca.ts";

export type { ProxyMode, ProxyServe };

/** A cluster and a proxy in front of it, closed (daemon killed, dirs removed) on dispose. */
export interface ProxiedCluster extends AsyncDisposable {
  pg: PgCluster;
  proxy: ProxyServe;
  /** With `tls`: the CA file that signed the proxy's certificate (for IP 127.0.0.1). */
  caPath?: string;
  /** `postgres://` URL through the proxy, as the superuser with its password. */
  dsn(opts?: { db?: string; user?: string; password?: string; appName?: string }): string;
}

/**
 * Starts a scram-only cluster and `vigil serve` with one proxy source in `mode` before it; with
 * `tls`, the proxy shows clients a certificate from a CA made for the test.
 */
export async function startProxied(
  mode: ProxyMode,
  opts: { tls?: boolean } = {},
): Promise<ProxiedCluster> {
  const pg = await startPostgres({ passwordAuth: true });
  const dir = await Deno.makeTempDir({ prefix: "vigil-proxy-clients-" });
  let proxy: ProxyServe;
  try {
    if (opts.tls) await makeTestCerts(dir, "proxy", "Vigil proxy client test CA");
    const tls = opts.tls ? { cert: `${dir}/proxy.crt`, key: `${dir}/proxy.key` } : undefined;
    proxy = await startProxyServe({ dir, upstreamPort: pg.port, mode, ...(tls ? { tls } : {}) });
  } catch (error) {
    await pg.close();
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    pg,
    proxy,
    ...(opts.tls ? { caPath: `${dir}/ca.crt` } : {}),
    dsn: (opts = {}) => {
      const user = encodeURIComponent(opts.user ?? pg.superuser);
      const password = encodeURIComponent(opts.password ?? pg.password);
      const app = opts.appName === undefined
        ? ""
        : `?application_name=${encodeURIComponent(opts.appName)}`;
      return `postgres://${user}:${password}@127.0.0.1:${proxy.port}/${
        opts.db ?? "postgres"
      }${app}`;
    },
    [Symbol.asyncDispose]: async () => {
      await proxy[Symbol.asyncDispose]();
      await pg.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * The stored events of the proxy's source once every CONNECT has its DISCONNECT (and there are
 * at least `sessions` of them), waiting for the proxy to notice clients that went away.
 */
export async function settledEvents(proxy: ProxyServe, sessions = 1): Promise<AuditEvent[]> {
  let events: AuditEvent[] = [];
  await assertEventually(async () => {
    events = await proxy.events();
    const opened = new Set(events.filter(isCommand("CONNECT")).map((e) => e.session_id));
    const closed = new Set(events.filter(isCommand("DISCONNECT")).map((e) => e.session_id));
    return opened.size >= sessions && [...opened].every((id) => closed.has(id));
  }, {
    timeoutMs: 60_000,
    message: `${sessions} proxy session(s) opened and closed in the log`,
  }).catch(async (error) => {
    throw new Error(
      `${(error as Error).message}; stored: ${JSON.stringify(events.map(brief))}; ` +
        `daemon log: ${await proxy.logTail()}`,
    );
  });
  return events;
}

/** A predicate for `command`. */
export function isCommand(command: string): (e: AuditEvent) => boolean {
  return (e) => e.command === command;
}

/** The session of the CONNECT with `application_name`; fails unless there is exactly one. */
export function sessionOf(events: AuditEvent[], applicationName: string): string {
  const ids = events
    .filter((e) => e.command === "CONNECT" && e.application_name === applicationName)
    .map((e) => e.session_id);
  if (ids.length !== 1 || ids[0] === undefined) {
    throw new Error(
      `expected one CONNECT of application ${JSON.stringify(applicationName)}, found ` +
        `${ids.length}: ${JSON.stringify(events.filter(isCommand("CONNECT")).map(brief))}`,
    );
  }
  return ids[0];
}

/** Commands of a session that are not statements. */
const SESSION_MARKS = new Set(["CONNECT", "DISCONNECT", "CANCEL", "AUTH_OK", "AUTH_FAILED"]);

/** The statement events of `session`, in the order stored. */
export function statementsOf(events: AuditEvent[], session: string): AuditEvent[] {
  return events.filter((e) =>
    e.session_id === session && e.kind === "session" && !SESSION_MARKS.has(String(e.command))
  );
}

/** The statements of pgbench's TPC-B transaction, in order, by how their text starts. */
export const TPCB_STATEMENTS: readonly (readonly [string, RegExp])[] = [
  ["BEGIN", /^BEGIN/i],
  ["UPDATE accounts", /^UPDATE pgbench_accounts/],
  ["SELECT abalance", /^SELECT abalance/],
  ["UPDATE tellers", /^UPDATE pgbench_tellers/],
  ["UPDATE branches", /^UPDATE pgbench_branches/],
  ["INSERT history", /^INSERT INTO pgbench_history/],
  ["END", /^END/i],
];

/** Which TPC-B statement an event is, if it is one. */
export function tpcbKind(e: AuditEvent): string | undefined {
  const text = String(e.statement ?? "").trim();
  return TPCB_STATEMENTS.find(([, re]) => re.test(text))?.[0];
}

/** The TPC-B transactions of one session's stored statements; throws where the order breaks. */
export function transactionsOf(statements: AuditEvent[], session: string): AuditEvent[][] {
  const done: AuditEvent[][] = [];
  let current: AuditEvent[] = [];
  for (const e of statements) {
    const kind = tpcbKind(e);
    if (kind === undefined) continue;
    const expected = TPCB_STATEMENTS[current.length]![0];
    if (kind !== expected || e.sqlstate !== undefined) {
      throw new Error(
        `session ${session}: expected ${expected}, stored ${JSON.stringify(brief(e))} ` +
          `after ${JSON.stringify(current.map(brief))}`,
      );
    }
    current.push(e);
    if (current.length === TPCB_STATEMENTS.length) {
      done.push(current);
      current = [];
    }
  }
  return done;
}

/** `context[key]` of an event. */
export function ctx(e: AuditEvent, key: string): unknown {
  return e.context?.[key];
}

/** Source positions stored more than once. */
export function duplicatePositions(events: AuditEvent[]): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const e of events) {
    const pos = String(e.source_pos);
    if (seen.has(pos)) twice.push(pos);
    seen.add(pos);
  }
  return twice;
}

/** The fields of an event that a failure message needs. */
export function brief(e: AuditEvent): Record<string, unknown> {
  return {
    kind: e.kind,
    command: e.command,
    session_id: e.session_id,
    statement: e.statement?.slice(0, 120),
    params: e.params,
    sqlstate: e.sqlstate,
    context: e.context,
  };
}

/** Whether `program` can be run (found on PATH or at its absolute path). */
export async function hasProgram(program: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v "$1"`, "sh", program],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}
