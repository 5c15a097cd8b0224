/**
 * `vigil pg-install --pgaudit` against a real PostgreSQL 15 with pgAudit: each scope (global,
 * database, role, role in a database) is set as pgAudit documents it and is in force for new
 * sessions, a re-run changes nothing (and runs no ALTER), `recommended` expands, and a bad
 * class or a missing role is a usage error that changes nothing.
 */

import { normalizePgauditLog, pgauditClasses } from "../../../daemon/pg/pgaudit_scope.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { startPostgres } from "../../support/postgres.ts";

Deno.test("vigil pg-install --pgaudit sets each scope once, and a re-run changes nothing", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE ROLE alice LOGIN; CREATE DATABASE shop");
  const inForce = (db = "postgres", user?: string) =>
    pg.sql("SHOW pgaudit.log", db, user === undefined ? {} : { user });
  const alters = "SELECT count(*) FROM pg_db_role_setting";

  const global = await runVigil(["pg-install", "--dsn", pg.dsn(), "--pgaudit", "write,ddl,role"]);
  assertEquals([global.code, global.stderr], [0, ""]);
  assertEquals(
    global.stdout.trim(),
    "pgaudit.log globally: 'all' → 'write,ddl,role' (ALTER SYSTEM, configuration reloaded)",
  );
  await assertEventuallyEquals(() => inForce(), "write,ddl,role");
  const again = await runVigil(["pg-install", "--dsn", pg.dsn(), "--pgaudit", "ddl, role,write"]);
  assertEquals(
    again.stdout.trim(),
    "pgaudit.log globally is already 'write,ddl,role': nothing changed",
  );

  const db = await runVigil([
    ...["pg-install", "--dsn", pg.dsn(), "--pgaudit", "recommended", "--database", "shop"],
  ]);
  assertEquals(
    db.stdout.trim(),
    "pgaudit.log for database shop: none set there → 'read,write,ddl,role,misc_set' " +
      "(for sessions that start from now on)",
  );
  assertEquals(await inForce("shop"), "read,write,ddl,role,misc_set");

  const role = await runVigil([
    ...["pg-install", "--dsn", pg.dsn(), "--pgaudit", "all", "--role", "alice"],
  ]);
  assertEquals(role.code, 0, role.stderr);
  assertEquals(await inForce("postgres", "alice"), "all");
  const both = await runVigil([
    ...["pg-install", "--dsn", pg.dsn(), "--pgaudit", "all,-misc", "--role", "alice"],
    ...["--database", "shop"],
  ]);
  assert(both.stdout.startsWith("pgaudit.log for role alice in database shop: none set"));
  assertEquals(await inForce("shop", "alice"), "all,-misc");
  assertEquals(await pg.sql(alters), "3");

  // Every scope again: nothing changes, and no ALTER reaches the server.
  const before = await pg.sql("SELECT string_agg(setconfig::text, ' ') FROM pg_db_role_setting");
  for (
    const args of [
      ["--pgaudit", "recommended", "--database", "shop"],
      ["--pgaudit", "all", "--role", "alice"],
      ["--pgaudit", "all,-misc", "--role", "alice", "--database", "shop"],
    ]
  ) {
    const rerun = await runVigil(["pg-install", "--dsn", pg.dsn(), ...args]);
    assert(rerun.stdout.includes("nothing changed"), rerun.stdout);
  }
  assertEquals(
    await pg.sql("SELECT string_agg(setconfig::text, ' ') FROM pg_db_role_setting"),
    before,
  );

  // Refused before anything changes.
  const bad = await runVigil(["pg-install", "--dsn", pg.dsn(), "--pgaudit", "write,delete"]);
  assertEquals(bad.code, 2);
  assert(bad.stderr.includes('unknown pgAudit class "delete"'), bad.stderr);
  const nobody = await runVigil([
    ...["pg-install", "--dsn", pg.dsn(), "--pgaudit", "all", "--role", "nobody"],
  ]);
  assertEquals(nobody.code, 2);
  assert(nobody.stderr.includes('there is no role "nobody"'), nobody.stderr);
  const stray = await runVigil(["pg-install", "--dsn", pg.dsn(), "--role", "alice"]);
  assertEquals(stray.code, 2);
  assertEquals(await pg.sql(alters), "3");
});

Deno.test("pgauditClasses() and normalizePgauditLog() read pgAudit's class lists", () => {
  assertEquals([...pgauditClasses("all, -misc,-read")], [
    "write",
    "function",
    "role",
    "ddl",
    "misc_set",
  ]);
  assertEquals([...pgauditClasses("none")], []);
  assertEquals(normalizePgauditLog(" Write , DDL "), "write,ddl");
  assertThrows(() => normalizePgauditLog(""), TypeError);
});

async function assertEventuallyEquals(read: () => Promise<string>, want: string): Promise<void> {
  // A reload reaches new sessions once the postmaster has handled its SIGHUP.
  for (let i = 0;; i++) {
    const got = await read();
    if (got === want || i >= 100) return assertEquals(got, want);
    await new Promise((r) => setTimeout(r, 50));
  }
}
