/**
 * Runs PostgreSQL's programs for the test harness in `postgres.ts`, as a non-root OS user when
 * the tests run as root (initdb and postgres refuse root). Programs get a clean environment so
 * a developer's `PGHOST`, `PGOPTIONS` or locale cannot change what a test sees.
 *
 * The server runs as a descendant of the test process, not daemonized by pg_ctl: a daemon is
 * re-parented to PID 1, and where PID 1 does not reap (many containers) every stopped cluster
 * would stay behind as a zombie. (Its logger still outlives it briefly, as PostgreSQL does not
 * wait for it; that one process is PID 1's to reap.)
 */

/** The OS account the server programs run as. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** What a finished program printed, and its exit code. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  cwd: string;
  /** Run through `runuser -u` as this user; undefined runs as the current user. */
  user?: ServerUser | undefined;
  /** Text written to the program's stdin; without it stdin is /dev/null. */
  stdin?: string;
  /** Added to the clean environment. */
  env?: Readonly<Record<string, string>>;
}

const FALLBACK_USER = "vigil-test";

let cachedUser: Promise<ServerUser | undefined> | undefined;

/**
 * The user to run the server as: undefined when not root; else Debian's `postgres`, else
 * `vigil-test`, created as a system user (no home, no login shell) if missing.
 */
export function serverUser(): Promise<ServerUser | undefined> {
  return cachedUser ??= findServerUser();
}

/** Runs `program` to completion and collects its output; never throws for a non-zero exit. */
export async function run(
  program: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<Output> {
  const child = command(program, args, opts, {
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read while writing: a program that answers before it has read all its input would block
  // on a full stdout pipe while we block on a full stdin pipe.
  const output = child.output();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    // A program that exits early closes its stdin; its exit code then tells what went wrong.
    await writer.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await writer.close().catch(() => {});
  }
  const { code, stdout, stderr } = await output;
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Starts `postgres -D dataDir`, its output appended to `logFile` (what it says before the
 * logging collector takes over: bad settings, a port in use). It stays in the test runner's
 * process group, so a Ctrl-C at the terminal shuts it down too.
 */
export function spawnServer(
  postgres: string,
  dataDir: string,
  opts: RunOptions & { logFile: string },
): Deno.ChildProcess {
  // The shell only redirects; exec makes the postmaster the very process it started.
  const script = 'exec "$0" -D "$1" </dev/null >>"$2" 2>&1';
  const args = ["-c", script, postgres, dataDir, opts.logFile];
  return command("sh", args, opts, { stdin: "null", stdout: "null", stderr: "null" }).spawn();
}

/** Whether `pid` is a live process; a zombie (exited, not yet reaped) counts as gone. */
export async function isProcessAlive(pid: number): Promise<boolean> {
  const fields = await statFields(pid);
  return fields !== undefined && fields[0] !== "Z" && fields[0] !== "X";
}

/**
 * SIGKILLs `pid` and its child processes, children first so that `pid`, still alive, reaps
 * them. PostgreSQL puts each child in a session of its own, so no process-group kill reaches
 * them all.
 */
export async function killTree(pid: number): Promise<void> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const fields = await statFields(Number(entry.name));
    if (fields?.[1] === String(pid)) kill(Number(entry.name));
  }
  kill(pid);
}

function kill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error; // Gone already is fine.
  }
}

/** Fields of /proc/PID/stat after the command name: state, ppid, …; undefined if gone. */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readProc(`/proc/${pid}/stat`);
  // The command name is in parentheses and may itself hold spaces and parentheses.
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * A /proc file's text, or undefined when the process is gone. Deno grants /proc/PID only with
 * --allow-all; scripts that run the harness with narrower flags (the benchmarks) read it
 * through `cat`, which --allow-run lets them start.
 */
export async function readProc(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/** Where /proc/PID/cwd points, or "" when the process is gone; see {@link readProc}. */
export async function procCwd(pid: number): Promise<string> {
  try {
    return await Deno.readLink(`/proc/${pid}/cwd`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) return "";
  }
  const out = await new Deno.Command("readlink", {
    args: [`/proc/${pid}/cwd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
}

function command(
  program: string,
  args: readonly string[],
  opts: RunOptions,
  stdio: Pick<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
): Deno.Command {
  const [cmd, fullArgs] = opts.user
    ? ["runuser", ["-u", opts.user.name, "--", program, ...args]]
    : [program, [...args]];
  return new Deno.Command(cmd, {
    args: fullArgs,
    cwd: opts.cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      LC_ALL: "C",
      TZ: "UTC",
      ...opts.env,
    },
    ...stdio,
  });
}

async function findServerUser(): Promise<ServerUser | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const existing = await lookupUser("postgres") ?? await lookupUser(FALLBACK_USER);
  if (existing) return existing;
  const added = await run("useradd", [
    ...["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
  ], { cwd: "/" });
  // Another test process may have created the user at the same moment; look again either way.
  const user = await lookupUser(FALLBACK_USER);
  if (user) return user;
  throw new Error(
    `Cannot create the system user ${FALLBACK_USER} to run PostgreSQL as (tests run as root, ` +
      `which PostgreSQL refuses): useradd exit ${added.code}: ${added.stderr.trim()}`,
  );
}

async function lookupUser(name: string): Promise<ServerUser | undefined> {
  const out = await run("getent", ["passwd", name], { cwd: "/" });
  if (out.code !== 0) return undefined;
  const [, , uid, gid] = out.stdout.trim().split(":");
  return uid && gid ? { name, uid: Number(uid), gid: Number(gid) } : undefined;
}
