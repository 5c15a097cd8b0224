/**
 * The life of one postmaster for the test harness in `postgres.ts`: start it and wait until it
 * accepts connections, or fail with the tail of its logs; stop it, escalating from a fast to an
 * immediate shutdown to SIGKILL of it and its children, so that stopping never leaves it behind.
 */
import { join } from "node:path";
import {
  isProcessAlive,
  killTree,
  procCwd,
  type ServerUser,
  spawnServer,
} from "./_postgres_process.ts";

const START_TIMEOUT_MS = 60_000;

/** Where the server's files are and whom it runs as. */
export interface ServerPaths {
  bin: string;
  rootDir: string;
  dataDir: string;
  logDir: string;
  user: ServerUser | undefined;
}

/** A postmaster started by {@link startServer}. */
export interface RunningServer {
  readonly pid: number;
  /** The process the test runner spawned; it ends when the postmaster ends. */
  readonly child: Deno.ChildProcess;
}

/**
 * Starts the postmaster of `paths.dataDir` and waits until postmaster.pid says "ready". Throws
 * with the log tails when it exits or is not ready in time (then it is stopped first).
 */
export async function startServer(paths: ServerPaths): Promise<RunningServer> {
  const child = spawnServer(join(paths.bin, "postgres"), paths.dataDir, {
    cwd: paths.rootDir,
    user: paths.user,
    logFile: join(paths.rootDir, "startup.log"),
  });
  child.unref(); // A forgotten cluster must not hold the test process open; unload kills it.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const pid = await postmasterPid(paths.dataDir, "ready");
    if (pid !== undefined) return { pid, child };
    if (await settles(child.status, 20)) {
      const { code } = await child.status;
      throw new Error(`postgres exited with code ${code}\n${await logTails(paths)}`);
    }
    if (Date.now() > deadline) {
      const tails = await logTails(paths);
      await stopServer({ pid: await postmasterPid(paths.dataDir) ?? 0, child });
      throw new Error(`postgres not ready within ${START_TIMEOUT_MS} ms\n${tails}`);
    }
  }
}

/**
 * Stops the server: fast shutdown, then immediate shutdown, then SIGKILL to the postmaster and
 * its children, and at last to the spawned process in between (`runuser` stops itself when its
 * child is stopped, and then reaps nothing).
 */
export async function stopServer(server: RunningServer): Promise<void> {
  const { pid, child } = server;
  const killChild = (): void => child.kill("SIGKILL"); // Also while no postmaster exists yet.
  const steps: [send: () => unknown, waitMs: number][] = [
    [pid ? () => Deno.kill(pid, "SIGINT") : killChild, 30_000],
    [pid ? () => Deno.kill(pid, "SIGQUIT") : killChild, 10_000],
    [pid ? () => killTree(pid) : killChild, 5_000],
    [killChild, 5_000],
  ];
  for (const [send, waitMs] of steps) {
    try {
      await send();
    } catch { /* Exited meanwhile; the wait below sees that. */ }
    if (await settles(child.status, waitMs)) return;
  }
  throw new Error(`Cannot stop postmaster ${pid}: it survived SIGKILL`);
}

/**
 * The pid in `dataDir`/postmaster.pid if that process is alive and is this cluster's
 * postmaster (its working dir is `dataDir`) and, when given, its status line is `status`.
 */
export async function postmasterPid(
  dataDir: string,
  status?: "ready",
): Promise<number | undefined> {
  const text = await Deno.readTextFile(join(dataDir, "postmaster.pid")).catch(() => "");
  const lines = text.split("\n");
  const pid = Number.parseInt(lines[0] ?? "", 10);
  if (!(pid > 0) || (status !== undefined && lines[7]?.trim() !== status)) return undefined;
  // A file left by a killed server names a dead pid, or by now someone else's.
  const cwd = await procCwd(pid);
  const ours = cwd === await Deno.realPath(dataDir);
  return ours && await isProcessAlive(pid) ? pid : undefined;
}

/** Whether `promise` settles within `ms`; clears its timer so no test sees a leaked one. */
export async function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last lines of startup.log (early errors) and of the newest stderr server log. */
async function logTails(paths: ServerPaths): Promise<string> {
  const entries = await Array.fromAsync(Deno.readDir(paths.logDir)).catch(() => []);
  const newestLog = entries.map((entry) => entry.name).filter((name) => name.endsWith(".log"))
    .sort().slice(-1).map((name) => join(paths.logDir, name));
  const parts = [];
  for (const path of [join(paths.rootDir, "startup.log"), ...newestLog]) {
    const text = await Deno.readTextFile(path).catch(() => undefined);
    if (text !== undefined) {
      parts.push(`--- ${path} (tail) ---\n${text.trimEnd().split("\n").slice(-30).join("\n")}`);
    }
  }
  return parts.join("\n");
}
