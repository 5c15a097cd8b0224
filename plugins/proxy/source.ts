/**
 * A running proxy source: listens on its address, runs each accepted connection as a
 * {@link Session}, routes cancel requests to the session whose server key they carry, and on
 * stop closes every session (each recorded as DISCONNECT, reason "restart") and stores what
 * the observe-mode backlog or the enforce-mode spool still holds before `run` returns. A
 * session's failure is its own: it never ends the listener or another session.
 *
 * Enforce mode records through the source's spool (`daemon/spool/`) where the daemon gives it
 * a directory: a statement's event is durable once it is synced there, in this thread, and the
 * store takes it a few milliseconds later. A batch the store refuses ends the run (and so every
 * session), and the next run hands the store what the spool still holds, once. Every run, in
 * either mode, first hands over what an earlier run left in the spool. Without a directory
 * (a source run outside `serve`) each statement waits for the store itself.
 */

import tls from "node:tls";
import { log } from "../../daemon/log.ts";
import { EventSpool, holdsRecords } from "../../daemon/spool/mod.ts";
import { errorResponse } from "../../daemon/pgwire/backend_encode.ts";
import { type SourceContext, SourceError } from "../../daemon/source.ts";
import type { ProxySettings } from "./config.ts";
import type { ClientChannel } from "./channel.ts";
import { SessionEvents } from "./events.ts";
import { BacklogRecorder, GroupRecorder, type Recorder } from "./recorder.ts";
import { Session } from "./session.ts";
import { forwardCancel, upstreamCaCerts } from "./upstream.ts";

/** What a running proxy reports. */
export interface ProxyStats {
  /** The address it listens on (the port the system chose for port 0). */
  address: { hostname: string; port: number } | undefined;
  sessions: number;
}

/** Runs the proxy until `ctx.signal` aborts; rejects with a `SourceError` if it cannot listen. */
export async function runProxySource(
  settings: ProxySettings,
  ctx: SourceContext,
  stats: ProxyStats,
): Promise<void> {
  let secure: tls.SecureContext | null = null;
  let caCerts: string[];
  try {
    if (settings.tlsCert !== null && settings.tlsKey !== null) {
      secure = tls.createSecureContext({
        cert: await Deno.readTextFile(settings.tlsCert),
        key: await Deno.readTextFile(settings.tlsKey),
      });
    }
    caCerts = await upstreamCaCerts(settings);
  } catch (error) {
    throw new SourceError(
      "connect",
      `Cannot start proxy ${ctx.name}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  let spool: EventSpool | undefined;
  try {
    spool = await openSpool(settings, ctx);
  } catch (error) {
    throw new SourceError(
      "store",
      `Cannot open the spool of proxy ${ctx.name} in ${ctx.spoolDir}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const backlog = settings.mode === "observe"
    ? new BacklogRecorder(ctx, settings.backlogEvents)
    : undefined;
  const recorder: Recorder = backlog ??
    (spool !== undefined ? { record: (events) => spool.append(events) } : new GroupRecorder(ctx));
  const sessions = new Set<Session>();
  const keys = new Map<string, Session>();
  const running = new Set<Promise<void>>();
  const runId = crypto.randomUUID().slice(0, 13).replace("-", "");
  let counter = 0;
  const gauge = (): void => {
    stats.sessions = sessions.size;
    ctx.gauge?.("sessions", sessions.size);
  };

  const env = {
    sourceName: ctx.name,
    settings,
    recorder,
    secure,
    caCerts,
    onBackendKey(session: Session, key: { pid: number; secret: number } | undefined): void {
      for (const [k, s] of keys) if (s === session) keys.delete(k);
      if (key !== undefined) keys.set(`${key.pid}.${key.secret}`, session);
    },
    onCancel(client: ClientChannel, key: { pid: number; secret: number }, from: string): void {
      client.close();
      const target = keys.get(`${key.pid}.${key.secret}`);
      const events = target?.events ??
        new SessionEvents(ctx.name, {
          sessionId: `${runId}-c${++counter}`,
          clientAddr: from.slice(0, from.lastIndexOf(":")),
          clientPort: Number(from.slice(from.lastIndexOf(":") + 1)),
          tls: false,
        });
      const ev = events.make("session", "CANCEL", {
        context: { backend_pid: key.pid, from, matched: target !== undefined },
      });
      void recorder.record([ev]).catch(() => {});
      // Only a key this proxy handed out is passed on: it is no relay of guesses.
      if (target === undefined) return;
      forwardCancel(settings, caCerts, key).catch((error) =>
        log("warn", "proxy: cannot forward a cancel request", {
          source: ctx.name,
          error: String(error),
        })
      );
    },
  };

  const accept = (conn: Deno.TcpConn): void => {
    conn.setNoDelay(true);
    if (sessions.size >= settings.maxSessions) {
      const refusal = errorResponse({
        severity: "FATAL",
        code: "53300",
        message: `The Vigil proxy has ${settings.maxSessions} sessions already (max_sessions)`,
      });
      conn.write(refusal).catch(() => {}).finally(() => conn.close());
      return;
    }
    const session = new Session(conn, `${runId}-${++counter}`, env);
    sessions.add(session);
    gauge();
    const done = session.run().finally(() => {
      sessions.delete(session);
      running.delete(done);
      gauge();
    });
    running.add(done);
  };
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: settings.listen.hostname, port: settings.listen.port });
  } catch (error) {
    await backlog?.drain();
    await spool?.close().catch(() => {});
    throw new SourceError(
      "connect",
      `Cannot listen on ${settings.listen.hostname}:${settings.listen.port} for proxy ` +
        `${ctx.name}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  stats.address = { hostname: listener.addr.hostname, port: listener.addr.port };
  ctx.gauge?.("connected", 1);
  gauge();
  const stop = (): void => {
    try {
      listener.close();
    } catch { /* already closed */ }
  };
  ctx.signal.addEventListener("abort", stop, { once: true });
  if (ctx.signal.aborted) stop();
  // The spool failed (the store refused its batch, or a write failed): no statement can be
  // audited now; end the run, and the next one takes over what the spool holds.
  let storeFailed = false;
  spool?.done.catch(() => {
    storeFailed = true;
    stop();
  });
  for (;;) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (ctx.signal.aborted || storeFailed) break;
      // Out of file descriptors and the like: the listener itself is fine; try again shortly.
      log("warn", "proxy: cannot accept a connection", { source: ctx.name, error: String(error) });
      if (error instanceof Deno.errors.BadResource) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    accept(conn);
  }
  for (const session of sessions) session.close(storeFailed ? "error" : "restart");
  await Promise.all(running);
  await backlog?.drain();
  try {
    await spool?.close();
  } catch (error) {
    throw new SourceError(
      "store",
      `Proxy ${ctx.name}: its spool failed, and keeps what it holds for the next run: ` +
        (error as Error).message,
      { cause: error },
    );
  }
  ctx.gauge?.("connected", 0);
  stats.address = undefined;
}

/**
 * The source's spool: open in enforce mode where the daemon gives a directory, and in observe
 * mode only if an earlier run left spool files there (closed at once: its close hands over what
 * they hold).
 */
async function openSpool(
  settings: ProxySettings,
  ctx: SourceContext,
): Promise<EventSpool | undefined> {
  const dir = ctx.spoolDir;
  if (dir === undefined) return undefined;
  // Only a spool file can hold what an earlier run left; the spare alone holds nothing owed.
  if (settings.mode === "observe" && !(await holdsRecords(dir))) return undefined;
  const spool = await EventSpool.open({
    dir,
    name: ctx.name,
    damagedCommand: "PROXY_SPOOL_DAMAGED",
    position: ctx.position,
    emit: (batch) => ctx.emit(batch),
    redaction: settings.redaction,
    maxBytes: settings.spoolBytes,
    ...(ctx.gauge !== undefined ? { gauge: ctx.gauge } : {}),
  });
  if (settings.mode === "enforce") return spool;
  await spool.close();
  return undefined;
}
