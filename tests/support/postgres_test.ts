/**
 * Proves the PostgreSQL harness: a cluster runs pgAudit with logical WAL, writes the audit line
 * of a statement to all three log files, and leaves no process or dir behind — also when the
 * test body throws.
 */
import {
  assert,
  assertEquals,
  assertEventually,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { isProcessAlive, type PgCluster, startPostgres, withPostgres } from "./postgres.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function dirnameOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** Waits for the first line of `path` that contains every one of `needles`. */
function lineWith(path: string, needles: readonly string[]): Promise<string> {
  return assertEventually(async () => {
    const text = await Deno.readTextFile(path);
    return text.split("\n").find((line) => needles.every((needle) => line.includes(needle)));
  }, { message: `A line with ${JSON.stringify(needles)} in ${path}` });
}

async function assertCleanedUp(rootDir: string, pid: number): Promise<void> {
  assert(pid > 0, "the cluster reported no postmaster pid");
  assert(!(await exists(rootDir)), `${rootDir} is still there after close`);
  assert(!(await isProcessAlive(pid)), `postmaster ${pid} still runs after close`);
}

Deno.test("startPostgres() audits a SELECT into the csvlog, jsonlog and stderr logs", async () => {
  let rootDir = "";
  let pid = 0;
  {
    await using pg = await startPostgres();
    ({ rootDir, pid } = pg);
    assert(await isProcessAlive(pid), `postmaster ${pid} is not running`);
    assertEquals(await pg.sql("SHOW wal_level"), "logical");
    assertMatch(await pg.sql("SHOW shared_preload_libraries"), /(^|,\s*)pgaudit(,|$)/);
    assertEquals(await pg.sql("SHOW pgaudit.log"), "all");

    const marker = `probe-${crypto.randomUUID()}`;
    await pg.sql("CREATE TABLE probe (id int, note text); INSERT INTO probe VALUES (1, 'one');");
    const select = `SELECT note, '${marker}' AS marker FROM probe WHERE id = 1`;
    assertEquals(await pg.sql(select), `one|${marker}`);

    const files = await pg.logFiles();
    for (const path of Object.values(files)) assertEquals(dirnameOf(path), pg.logDir);
    assertMatch(files.stderr, /\/postgresql-\d{8}-\d{6}\.log$/);
    assertMatch(files.csvlog, /\/postgresql-\d{8}-\d{6}\.csv$/);
    assertMatch(files.jsonlog, /\/postgresql-\d{8}-\d{6}\.json$/);

    const audit = ["AUDIT: SESSION,", "READ,SELECT", marker];
    const csv = await lineWith(files.csvlog, audit);
    assertStringIncludes(csv, ',"postgres","postgres",'); // user name, database name

    const json = JSON.parse(await lineWith(files.jsonlog, audit));
    assertEquals([json.user, json.dbname, json.application_name], [
      "postgres",
      "postgres",
      "vigil-test",
    ]);
    assertStringIncludes(json.message, `"${select}"`);

    const stderr = await lineWith(files.stderr, audit);
    assertMatch(
      stderr,
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] [0-9a-f]+\.[0-9a-f]+:\d+ user=postgres,db=postgres,app=vigil-test,client=127\.0\.0\.1 LOG: {2}AUDIT: SESSION,/,
    );
    await lineWith(files.stderr, ["connection authorized: user=postgres database=postgres"]);
  }
  await assertCleanedUp(rootDir, pid);
});

Deno.test("withPostgres() closes the cluster when the test body throws", async () => {
  let seen: PgCluster | undefined;
  await assertRejects(
    () =>
      withPostgres(async (pg) => {
        seen = pg;
        await pg.sql("SELECT 1");
        throw new Error("test body failed");
      }),
    { instanceOf: Error, message: "test body failed" },
  );
  assert(seen, "withPostgres() never called the body");
  await assertCleanedUp(seen.rootDir, seen.pid);
});

Deno.test("startPostgres({ passwordAuth }) rejects a wrong password and logs it", async () => {
  await using pg = await startPostgres({
    passwordAuth: true,
    pgauditLog: "ddl,role",
    pgauditLogRelation: true,
  });
  assertEquals(await pg.sql("SHOW pgaudit.log"), "ddl,role");
  assertEquals(await pg.sql("SHOW pgaudit.log_relation"), "on");
  await pg.sql("CREATE ROLE alice LOGIN PASSWORD 'right'");
  assertEquals(
    await pg.sql("SELECT current_user", "postgres", { user: "alice", password: "right" }),
    "alice",
  );
  await assertRejects(
    () => pg.sql("SELECT 1", "postgres", { user: "alice", password: "wrong" }),
    { message: 'password authentication failed for user "alice"' },
  );
  await assertRejects(() => pg.sql("SELECT 1", "postgres", { user: "alice" }), {
    message: "no password supplied",
  });
  const { csvlog } = await pg.logFiles();
  await lineWith(csvlog, ["FATAL", "28P01", 'password authentication failed for user ""alice""']);
});

Deno.test("PgCluster.restart() keeps the port and the data with a new postmaster", async () => {
  await withPostgres(async (pg) => {
    const { port, pid } = pg;
    await pg.sql("CREATE TABLE kept (id int); INSERT INTO kept VALUES (42);");
    await pg.restart();
    assertEquals(pg.port, port);
    assert(pg.pid !== pid, "restart() kept the old postmaster pid");
    assert(!(await isProcessAlive(pid)), `old postmaster ${pid} still runs after restart`);
    assertEquals(await pg.sql("SELECT id FROM kept"), "42");
    assertMatch(
      pg.dsn("app db", "alice"),
      new RegExp(`^postgres://alice@127\\.0\\.0\\.1:${port}/app%20db$`),
    );
  });
});

Deno.test("startPostgres() fails with the server's log and leaves nothing behind", async () => {
  const error = await assertRejects(() => startPostgres({ settings: { shared_buffers: "lots" } }));
  assertMatch(error.message, /^Cannot start PostgreSQL in \/.+\/data: postgres exited with code 1/);
  assertStringIncludes(error.message, 'invalid value for parameter "shared_buffers": "lots"');
  const dataDir = error.message.match(/^Cannot start PostgreSQL in (\S+): /)?.[1];
  assert(dataDir, "the error names no data dir");
  assert(!(await exists(dirnameOf(dataDir))), `${dirnameOf(dataDir)} is still there`);
});
