/**
 * systemd's readiness and watchdog protocol (sd_notify), spoken by the daemon itself so that the
 * unit can be `Type=notify` with `WatchdogSec=`. systemd passes a unix datagram socket in
 * `$NOTIFY_SOCKET`; the daemon sends `READY=1` once the store is open, the HTTP server listens
 * and the sources are started, `WATCHDOG=1` every half `$WATCHDOG_USEC` from its event loop (a
 * wedged daemon stops sending and systemd restarts it), and `STOPPING=1` when told to stop.
 *
 * Deno sends unix datagrams only through its unstable API (`Deno.listenDatagram` with
 * `--unstable-net`), which also binds a socket of our own: it is `notify.sock` in
 * `$RUNTIME_DIRECTORY` (systemd's `RuntimeDirectory=`, `/run/vigil`), else in the data
 * directory, unlinked as soon as it is bound. `vigil permissions` grants exactly these two
 * socket paths. Without
 * `$NOTIFY_SOCKET` (not under systemd) this does nothing; with it but without the means to
 * answer, it logs an error saying why, and systemd's start timeout fails the start visibly.
 */

import { log } from "../log.ts";

/** The file name of the daemon's own end of the notify socket. */
export const NOTIFY_BIND_NAME = "notify.sock";

/** What the notifier reads from the environment (systemd sets these). */
export interface NotifyEnv {
  NOTIFY_SOCKET?: string | undefined;
  WATCHDOG_USEC?: string | undefined;
  WATCHDOG_PID?: string | undefined;
  RUNTIME_DIRECTORY?: string | undefined;
}

type DatagramConn = Deno.DatagramConn;
type ListenDatagram = (opts: { transport: "unixpacket"; path: string }) => DatagramConn;

function readEnv(): NotifyEnv {
  const get = (k: keyof NotifyEnv): string | undefined => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined; // not granted: `vigil permissions` always grants these four
    }
  };
  return {
    NOTIFY_SOCKET: get("NOTIFY_SOCKET"),
    WATCHDOG_USEC: get("WATCHDOG_USEC"),
    WATCHDOG_PID: get("WATCHDOG_PID"),
    RUNTIME_DIRECTORY: get("RUNTIME_DIRECTORY"),
  };
}

/** Where the daemon binds its end: the first runtime directory, else `fallbackDir`. */
export function notifyBindPath(runtimeDirectory: string | undefined, fallbackDir: string): string {
  const dir = runtimeDirectory?.split(":")[0] || fallbackDir;
  return `${dir.replace(/\/+$/, "")}/${NOTIFY_BIND_NAME}`;
}

/** The watchdog ping interval in ms (half of `WATCHDOG_USEC`), or null when there is none. */
export function watchdogIntervalMs(env: NotifyEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC ?? "");
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (
    env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== "" && Number(env.WATCHDOG_PID) !== pid
  ) {
    return null; // the watchdog is meant for another process (a launcher that did not exec)
  }
  return Math.max(1, Math.floor(usec / 2000));
}

/**
 * Tells systemd the daemon is ready, keeps the watchdog fed until `finished` settles and says
 * `STOPPING=1` on SIGTERM or SIGINT. Returns at once when not under systemd.
 */
export async function notifySystemd(
  finished: Promise<void>,
  opts: { status: string; dataDir: string; env?: NotifyEnv },
): Promise<void> {
  const env = opts.env ?? readEnv();
  const target = env.NOTIFY_SOCKET;
  if (target === undefined || target === "") return;
  if (!target.startsWith("/")) {
    log(
      "error",
      "cannot tell systemd the daemon is ready: abstract notify sockets are not " +
        "supported (Deno binds unix sockets by path)",
      { notify_socket: target },
    );
    return;
  }
  const listen = (Deno as unknown as { listenDatagram?: ListenDatagram }).listenDatagram;
  if (typeof listen !== "function") {
    log(
      "error",
      "cannot tell systemd the daemon is ready: NOTIFY_SOCKET is set but Deno runs " +
        "without --unstable-net (run it through the vigil launcher)",
      { notify_socket: target },
    );
    return;
  }
  const bind = notifyBindPath(env.RUNTIME_DIRECTORY, opts.dataDir);
  let conn: DatagramConn;
  try {
    await Deno.remove(bind).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    conn = listen({ transport: "unixpacket", path: bind });
    // systemd never answers, so no one needs the path: unlink it now and leave nothing behind,
    // however the process ends (the bound socket keeps working without its name).
    await Deno.remove(bind);
  } catch (error) {
    log("error", `cannot tell systemd the daemon is ready: cannot bind ${bind}`, {
      error: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  const encoder = new TextEncoder();
  // A failing send is logged once, not every watchdog tick, until one goes through again.
  let failing = false;
  const send = async (state: string): Promise<boolean> => {
    try {
      await conn.send(encoder.encode(state), { transport: "unixpacket", path: target });
      failing = false;
      return true;
    } catch (error) {
      if (!failing) {
        log("error", `cannot send ${state.split("\n")[0]} to systemd at ${target}`, {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      failing = true;
      return false;
    }
  };
  const oneLine = opts.status.replaceAll("\n", " ");
  if (await send(`READY=1\nSTATUS=${oneLine}\nMAINPID=${Deno.pid}`)) {
    log("info", "told systemd the daemon is ready", { notify_socket: target });
  }

  const every = watchdogIntervalMs(env, Deno.pid);
  const timer = every === null ? undefined : setInterval(() => void send("WATCHDOG=1"), every);
  const stopping = (): void => void send("STOPPING=1");
  Deno.addSignalListener("SIGTERM", stopping);
  Deno.addSignalListener("SIGINT", stopping);
  const cleanUp = (): void => {
    if (timer !== undefined) clearInterval(timer);
    Deno.removeSignalListener("SIGTERM", stopping);
    Deno.removeSignalListener("SIGINT", stopping);
    conn.close();
  };
  void finished.then(cleanUp, cleanUp);
}
