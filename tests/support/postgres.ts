/**
 * Throwaway PostgreSQL 15 clusters for integration tests.
 *
 * {@link startPostgres} runs initdb in a fresh temp dir, turns on pgAudit, logical WAL and all
 * three log formats (stderr, csvlog, jsonlog) and starts the server on a free 127.0.0.1 port.
 * The returned {@link PgCluster} owns that dir: `close()` stops the server — escalating to an
 * immediate shutdown and then SIGKILL if a fast shutdown hangs — and removes the dir, so a test
 * leaves neither a process nor a file behind, even when it fails. Nothing is fixed (port,
 * paths), so test files can run in parallel and twice in a row.
 *
 * PostgreSQL refuses to run as root. Under root the server programs run through `runuser` as
 * the Debian `postgres` user, or as a `vigil-test` system user created on first use.
 *
 * @example
 * ```ts
 * Deno.test("something against a real server", async () => {
 *   await using pg = await startPostgres(); // closed when the block exits, even on throw
 *   await pg.sql("CREATE TABLE t (id int)");
 * });
 * ```
 */
import { dirname, join } from "node:path";
import { type AuthMethod, hbaConf, HOST, LOG_LINE_PREFIX, serverConf } from "./_postgres_conf.ts";
import { type Output, run, type ServerUser, serverUser } from "./_postgres_process.ts";
import { type RunningServer, startServer, stopServer } from "./_postgres_server.ts";
import { freePort } from "./ports.ts";

export { LOG_FILENAME, LOG_LINE_PREFIX } from "./_postgres_conf.ts";
export type { AuthMethod } from "./_postgres_conf.ts";
export { isProcessAlive } from "./_postgres_process.ts";

const PORT_ATTEMPTS = 5;

/** Options of {@link startPostgres}; all optional. */
export interface StartPostgresOptions {
  /** Value of `pgaudit.log`; default `"all"`. */
  pgauditLog?: string;
  /** Value of `pgaudit.log_relation`; default off. */
  pgauditLogRelation?: boolean;
  /** Require scram-sha-256 passwords on TCP connections (also replication) instead of trust. */
  passwordAuth?: boolean;
  /**
   * pg_hba.conf's method for TCP connections (also replication), overriding `passwordAuth`.
   * With `md5`, passwords are stored as md5 (the superuser's too), so the server really asks
   * for md5 rather than falling back to SCRAM; `password` asks for them in clear text.
   */
  authMethod?: AuthMethod;
  /** Name of the bootstrap superuser; default `"postgres"`. */
  superuser?: string;
  /** Password of the superuser; default `"vigil-test-password"`. */
  password?: string;
  /** More postgresql.conf settings; written last, so they override the harness's own. */
  settings?: Readonly<Record<string, string | number | boolean>>;
  /** Where initdb, postgres and psql are; default `$VIGIL_PG_BIN` or PostgreSQL 15's. */
  binDir?: string;
}

/** Options of {@link PgCluster.sql}. */
export interface SqlOptions {
  /** Role to connect as; default the superuser. */
  user?: string;
  /** Password for `user`; default the superuser's when `user` is the superuser. */
  password?: string;
  /** `application_name` of the session; default `"vigil-test"`. */
  applicationName?: string;
}

/** Absolute paths of the log files the server writes to now, from `current_logfiles`. */
export interface LogFiles {
  stderr: string;
  csvlog: string;
  jsonlog: string;
}

/** A running throwaway cluster. Dispose of it (`await using`, or `close()`) when done. */
export interface PgCluster extends AsyncDisposable {
  /** Always `"127.0.0.1"`; the server listens nowhere else (and on its Unix socket). */
  readonly host: string;
  readonly port: number;
  readonly superuser: string;
  readonly password: string;
  /** The temp dir that holds everything below; `close()` removes it. */
  readonly rootDir: string;
  readonly dataDir: string;
  /** Where the logging collector writes, with names as in `LOG_FILENAME`. */
  readonly logDir: string;
  readonly socketDir: string;
  /** The `log_line_prefix` in effect, `LOG_LINE_PREFIX`. */
  readonly logLinePrefix: string;
  /** PID of the postmaster last started; stays readable after `stop()` to check it is gone. */
  readonly pid: number;
  /** `postgres://` URL of `db` (default `postgres`) as `user` (default the superuser). */
  dsn(db?: string, user?: string): string;
  /** Runs SQL through psql (`-X -q -At`, stops at the first error) and returns its output. */
  sql(query: string, db?: string, opts?: SqlOptions): Promise<string>;
  /** The current log files; waits briefly until the collector has listed all three. */
  logFiles(): Promise<LogFiles>;
  /** Stops the server if it runs, then starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Fast shutdown; the temp dir stays until `close()`. */
  stop(): Promise<void>;
  /** Stops the server and removes the temp dir; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Creates, configures and starts a cluster. On failure it cleans up and throws with the tail
 * of the server's log.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgCluster> {
  const user = await serverUser();
  const rootDir = await Deno.makeTempDir({ prefix: "vigil-pg-" });
  const cluster = new Cluster(rootDir, user, opts);
  try {
    await cluster.init();
    return cluster;
  } catch (error) {
    await cluster.close().catch(() => {}); // The start failure is the error worth reporting.
    throw error;
  }
}

/** Runs `fn` against a fresh cluster and always closes it, also when `fn` throws. */
export async function withPostgres<T>(
  fn: (pg: PgCluster) => T | Promise<T>,
  opts: StartPostgresOptions = {},
): Promise<T> {
  await using pg = await startPostgres(opts);
  return await fn(pg);
}

// A cluster a test forgot to close is killed when the test process exits normally.
const unclosed = new Set<Cluster>();
globalThis.addEventListener("unload", () => {
  for (const cluster of unclosed) cluster.killSync();
});

class Cluster implements PgCluster {
  readonly host = HOST;
  readonly logLinePrefix = LOG_LINE_PREFIX;
  readonly superuser: string;
  readonly password: string;
  readonly dataDir: string;
  readonly logDir: string;
  readonly socketDir: string;
  #port = 0;
  #pid = 0;
  #server: RunningServer | undefined;
  #closing: Promise<void> | undefined;
  #user: ServerUser | undefined;
  #opts: StartPostgresOptions;
  #bin: string;

  constructor(readonly rootDir: string, user: ServerUser | undefined, opts: StartPostgresOptions) {
    this.#user = user;
    this.#opts = opts;
    this.#bin = opts.binDir ?? Deno.env.get("VIGIL_PG_BIN") ?? "/usr/lib/postgresql/15/bin";
    this.superuser = opts.superuser ?? "postgres";
    this.password = opts.password ?? "vigil-test-password";
    this.dataDir = join(rootDir, "data");
    this.logDir = join(rootDir, "log");
    this.socketDir = join(rootDir, "sock");
    unclosed.add(this);
  }

  get port(): number {
    return this.#port;
  }

  get pid(): number {
    return this.#pid;
  }

  async init(): Promise<void> {
    await this.#prepareDirs();
    const pwfile = join(this.rootDir, "pwfile");
    await this.#writeOwned(pwfile, `${this.password}\n`);
    const initdb = await run(join(this.#bin, "initdb"), [
      ...["-D", this.dataDir, "-U", this.superuser, "--pwfile", pwfile, "-E", "UTF8"],
      ...["--auth=trust", "--no-locale", "--no-sync", "--no-instructions"],
      "--allow-group-access",
    ], { cwd: this.rootDir, user: this.#user });
    await Deno.remove(pwfile);
    if (initdb.code !== 0) throw new Error(`Cannot initdb ${this.dataDir}: ${describe(initdb)}`);
    const auth = this.#opts.authMethod ?? !!this.#opts.passwordAuth;
    await Deno.writeTextFile(join(this.dataDir, "pg_hba.conf"), hbaConf(auth));
    const include = "include 'vigil_test.conf'\n";
    await Deno.writeTextFile(join(this.dataDir, "postgresql.conf"), include, { append: true });
    // A port can be taken between probing it and the server binding it; then try another.
    for (let attempt = 1;; attempt++) {
      this.#port = freePort();
      await this.#writeOwned(join(this.dataDir, "vigil_test.conf"), this.#conf());
      try {
        await this.#start();
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (attempt < PORT_ATTEMPTS && /could not bind|address already in use/i.test(message)) {
          continue;
        }
        throw new Error(`Cannot start PostgreSQL in ${this.dataDir}: ${message}`, { cause: error });
      }
    }
    if (auth === "md5") {
      // initdb stored a SCRAM secret, for which the server would run SCRAM instead of md5.
      await this.sql(
        `SET password_encryption = 'md5'; ALTER ROLE "${this.superuser}" PASSWORD ` +
          `'${this.password.replaceAll("'", "''")}'`,
      );
    }
  }

  dsn(db = "postgres", user = this.superuser): string {
    const auth = user === this.superuser
      ? `${encodeURIComponent(user)}:${encodeURIComponent(this.password)}`
      : encodeURIComponent(user);
    return `postgres://${auth}@${HOST}:${this.#port}/${encodeURIComponent(db)}`;
  }

  async sql(query: string, db = "postgres", opts: SqlOptions = {}): Promise<string> {
    const user = opts.user ?? this.superuser;
    const password = opts.password ?? (user === this.superuser ? this.password : undefined);
    const out = await run(join(this.#bin, "psql"), [
      ...["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-At", "-f", "-"],
      ...["-h", HOST, "-p", String(this.#port), "-U", user, "-d", db],
    ], {
      cwd: this.rootDir,
      stdin: query,
      env: {
        PGAPPNAME: opts.applicationName ?? "vigil-test",
        PGCONNECT_TIMEOUT: "10",
        ...(password === undefined ? {} : { PGPASSWORD: password }),
      },
    });
    if (out.code !== 0) {
      throw new Error(`Cannot run SQL as ${user} on ${HOST}:${this.#port}/${db}: ${describe(out)}`);
    }
    return out.stdout.replace(/\n$/, "");
  }

  async logFiles(): Promise<LogFiles> {
    const path = join(this.dataDir, "current_logfiles");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const text = await Deno.readTextFile(path).catch(() => "");
      const files = Object.fromEntries(text.split("\n").map((line) => line.split(" ", 2)));
      const { stderr, csvlog, jsonlog } = files;
      if (stderr && csvlog && jsonlog) return { stderr, csvlog, jsonlog };
      if (Date.now() > deadline) {
        throw new Error(`Cannot find all three log files in ${path}: ${JSON.stringify(text)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    try {
      await this.#start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot restart PostgreSQL in ${this.dataDir}: ${message}`, { cause: error });
    }
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    await stopServer(this.#server);
    this.#server = undefined;
  }

  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Last resort at process exit, where nothing can be awaited: kill and remove synchronously. */
  killSync(): void {
    try {
      // Only while its working dir is our data dir: by now the pid may be another process's.
      if (Deno.readLinkSync(`/proc/${this.#pid}/cwd`) === Deno.realPathSync(this.dataDir)) {
        Deno.kill(this.#pid, "SIGKILL"); // Its backends exit when they see it gone.
      }
    } catch { /* already gone */ }
    try {
      Deno.removeSync(this.rootDir, { recursive: true });
    } catch { /* already gone */ }
  }

  async #close(): Promise<void> {
    await this.stop(); // If this throws, the dir stays: removing it under a live server fails.
    await Deno.remove(this.rootDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    unclosed.delete(this);
  }

  async #start(): Promise<void> {
    this.#server = await startServer({
      bin: this.#bin,
      rootDir: this.rootDir,
      dataDir: this.dataDir,
      logDir: this.logDir,
      user: this.#user,
    });
    this.#pid = this.#server.pid;
  }

  async #prepareDirs(): Promise<void> {
    await Deno.mkdir(this.logDir, { mode: 0o750 });
    await Deno.mkdir(this.socketDir, { mode: 0o700 });
    await Deno.chmod(this.rootDir, 0o750);
    const user = this.#user;
    if (!user) return;
    for (const dir of [this.rootDir, this.logDir, this.socketDir]) {
      await Deno.chown(dir, user.uid, user.gid);
    }
    // The server user must get through the parent (e.g. a private $TMPDIR) to reach its dir.
    const parent = dirname(this.rootDir);
    const mode = (await Deno.stat(parent)).mode ?? 0;
    if ((mode & 0o001) === 0) await Deno.chmod(parent, (mode & 0o7777) | 0o001);
  }

  #conf(): string {
    return serverConf({
      port: this.#port,
      socketDir: this.socketDir,
      logDir: this.logDir,
      pgauditLog: this.#opts.pgauditLog ?? "all",
      pgauditLogRelation: this.#opts.pgauditLogRelation ?? false,
      settings: this.#opts.authMethod === "md5"
        ? { password_encryption: "md5", ...this.#opts.settings }
        : this.#opts.settings,
    });
  }

  async #writeOwned(path: string, text: string): Promise<void> {
    await Deno.writeTextFile(path, text, { mode: 0o600 });
    if (this.#user) await Deno.chown(path, this.#user.uid, this.#user.gid);
  }
}

function describe(out: Output): string {
  const text = (out.stderr.trim() || out.stdout.trim() || "(no output)").replaceAll("\n", "\n  ");
  return `exit ${out.code}: ${text}`;
}
