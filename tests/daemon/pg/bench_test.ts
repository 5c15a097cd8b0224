/**
 * `vigil bench triggers` against a real PostgreSQL 15: it measures both databases in both
 * protocols, the statement triggers' messages show in the WAL of every transaction, and it
 * leaves no database behind.
 */

import { benchTriggers } from "../../../daemon/pg/bench.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";

Deno.test("benchTriggers() prints TPS and WAL lines against a same-run reference, and cleans up", async () => {
  await using pg = await startPostgres();
  // `vigil bench` runs pgbench, which the shipped command's permissions leave out (the
  // `bench` task grants it), so the bench runs here in-process.
  const lines = await benchTriggers({
    dsn: pg.dsn(),
    ...{ seconds: 1, rounds: 1, clients: 2, scale: 1 },
  });
  assertEquals(lines.map((l) => `${l.bench} ${l.unit}`), [
    "pgbench TPC-B, statement triggers (simple) TPS",
    "WAL a TPC-B transaction, statement triggers (simple) bytes",
    "pgbench TPC-B, statement triggers (extended) TPS",
    "WAL a TPC-B transaction, statement triggers (extended) bytes",
  ]);
  for (const l of lines) {
    assert(l.value > 0 && l.reference.value > 0, JSON.stringify(l));
    assertEquals(l.ratio, Math.round((l.value / l.reference.value) * 1000) / 1000);
  }
  // Four vigil.stmt messages of a few hundred bytes each ride in every transaction's WAL.
  for (const wal of lines.filter((l) => l.unit === "bytes")) {
    assert(wal.value - wal.reference.value > 4 * 200, JSON.stringify(wal));
  }
  assertEquals(
    await pg.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'vigil_bench_%'"),
    "0",
  );
});
