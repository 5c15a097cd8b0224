/**
 * Vigil's main job on an embedded default, for a first look: a throwaway PostgreSQL 15 with
 * pgAudit (the test harness's), `vigil pg-install` in it, a WAL source and a pgAudit source on
 * it, a fresh data dir under `.local/`, an admin user with a generated password, `vigil serve`
 * with the web UI on 127.0.0.1, and a small workload of ordinary and suspicious activity so that
 * every page has something to show. Ctrl-C stops it all and removes the database; the data dir
 * stays for `vigil query` / `vigil verify` until the next start.
 *
 * `./scripts/local.sh [--port 8443] [--quiet-workload]`
 */

import { startPostgres } from "../tests/support/postgres.ts";
import { vigilArgv } from "../tests/support/cli.ts";
import { installPgSide } from "../daemon/pg/install.ts";
import { SERVE_ENV, SERVE_V8_FLAGS } from "../daemon/serve/process_settings.ts";

const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const flag = (name: string): string | undefined => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const port = Number(flag("port") ?? 8443);
const local = `${root}/.local`;
const data = `${local}/data`;

await Deno.remove(local, { recursive: true }).catch(() => {});
await Deno.mkdir(data, { recursive: true, mode: 0o700 });

console.log("starting a throwaway PostgreSQL 15 with pgAudit …");
await using pg = await startPostgres({ passwordAuth: true });
const su = { user: pg.superuser, password: pg.password };
await installPgSide(pg.dsn());
await pg.sql(
  `
  CREATE EXTENSION IF NOT EXISTS pgaudit;
  CREATE ROLE app LOGIN PASSWORD 'app-password';
  CREATE ROLE analyst LOGIN PASSWORD 'analyst-password';
  CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2));
  CREATE TABLE patients (id int PRIMARY KEY, name text, diagnosis text);
  INSERT INTO accounts SELECT g, 'owner ' || g, 100 FROM generate_series(1, 200) g;
  INSERT INTO patients SELECT g, 'patient ' || g, 'code ' || (g % 17) FROM generate_series(1, 100) g;
  GRANT SELECT, INSERT, UPDATE ON accounts TO app;
  GRANT SELECT ON accounts, patients TO analyst;
`,
  "postgres",
  su,
);

const password = Array.from(crypto.getRandomValues(new Uint8Array(12)))
  .map((b) => b.toString(16).padStart(2, "0")).join("");
await Deno.writeTextFile(`${local}/pg-password`, `${pg.password}\n`, { mode: 0o600 });
const config = `${local}/vigil.toml`;
await Deno.writeTextFile(
  config,
  [
    `data_dir = "${data}"`,
    "",
    "[web]",
    `listen = "127.0.0.1:${port}"`,
    "",
    "[[sources]]",
    'name = "demo-wal"',
    'type = "wal"',
    `dsn = "postgres://${pg.superuser}@127.0.0.1:${pg.port}/postgres"`,
    `password_file = "${local}/pg-password"`,
    'slot = "vigil_local"',
    'publication = "vigil_local"',
    "",
    "[[sources]]",
    'name = "demo-log"',
    'type = "pgaudit"',
    `path = "${pg.logDir}/*.csv"`,
    'format = "csvlog"',
    "",
  ].join("\n"),
);

const vigil = (args: string[], stdin?: string) => {
  const argv = vigilArgv(args);
  // `serve` as the packaged launcher starts it: the allocator's environment and V8's flags.
  const serve = args[0] === "serve";
  if (serve) argv.splice(argv.indexOf("--allow-sys=statfs") + 1, 0, SERVE_V8_FLAGS);
  return new Deno.Command(Deno.execPath(), {
    args: argv,
    stdin: stdin === undefined ? "null" : "piped",
    ...(serve ? { env: { ...SERVE_ENV } } : {}),
  });
};
const add = vigil(["user", "add", "--data", data, "--name", "admin", "--role", "admin"], "")
  .spawn();
const w = add.stdin.getWriter();
await w.write(new TextEncoder().encode(`${password}\n`));
await w.close();
if (!(await add.status).success) throw new Error("could not create the admin user");

const serve = vigil(["serve", "--config", config]).spawn();
console.log(`
Vigil is running.
  web UI:    http://127.0.0.1:${port}/   (user admin, password ${password})
  health:    http://127.0.0.1:${port}/healthz
  config:    ${config}
  data dir:  ${data}
  database:  postgres://${pg.superuser}@127.0.0.1:${pg.port}/postgres (password in ${local}/pg-password)
Ctrl-C stops Vigil and removes the database; the data dir stays until the next start.
`);

const ac = new AbortController();
const stop = () => ac.abort();
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
const workload = Deno.args.includes("--quiet-workload") ? Promise.resolve() : run(ac.signal);
const served = serve.status.then(() => ac.abort());
await new Promise<void>((resolve) => ac.signal.addEventListener("abort", () => resolve()));
try {
  serve.kill("SIGTERM");
} catch { /* already gone */ }
await served;
await workload;
Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);
console.log(`stopped; try: deno task vigil verify --data ${data}`);

/** Ordinary work every second or two, and now and then something an auditor wants to see. */
async function run(signal: AbortSignal): Promise<void> {
  const app = { user: "app", password: "app-password" };
  const analyst = { user: "analyst", password: "analyst-password" };
  let tick = 0;
  while (!signal.aborted) {
    tick++;
    const id = 1 + (tick % 200);
    try {
      await pg.sql(
        `BEGIN; SELECT vigil.set_context('{"user": "clerk${tick % 5}", "reason": "payment"}'); ` +
          `UPDATE accounts SET balance = balance - 1 WHERE id = ${id}; COMMIT;`,
        "postgres",
        app,
      );
      await pg.sql(`SELECT owner, balance FROM accounts WHERE id = ${id}`, "postgres", analyst);
      if (tick % 10 === 0) {
        await pg.sql("SELECT * FROM patients", "postgres", analyst);
      }
      if (tick % 15 === 0) {
        await pg.sql("SELECT 1", "postgres", { user: "analyst", password: "guess" })
          .catch(() => {}); // A failed login: it is the point.
      }
      if (tick % 30 === 0) {
        await pg.sql(`CREATE TABLE IF NOT EXISTS scratch_${tick} (x int)`, "postgres", su);
      }
    } catch (error) {
      if (!signal.aborted) console.error(`workload: ${(error as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
