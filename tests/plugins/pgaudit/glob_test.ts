/** The `path` glob of a pgAudit source. */

import { compileGlob, listGlob } from "../../../plugins/pgaudit/glob.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("compileGlob() matches file names with *, ? and classes", () => {
  const g = compileGlob("/var/log/postgresql/postgresql-*.csv");
  assertEquals(g.dir, "/var/log/postgresql");
  assert(g.matches("postgresql-2026-11-23_000000.csv"));
  assert(!g.matches("postgresql-2026.log"));
  assert(!g.matches("postgresql-x.csv.1"));
  const h = compileGlob("log/pg-??.[cj]s[!x]*");
  assertEquals(h.dir, "log");
  assert(h.matches("pg-01.csv"));
  assert(h.matches("pg-01.json"));
  assert(!h.matches("pg-1.csv"));
  assert(!h.matches("pg-01.csx"));
  const literal = compileGlob("a+b(c).csv");
  assertEquals(literal.dir, ".");
  assert(literal.matches("a+b(c).csv") && !literal.matches("aab(c).csv"));
});

Deno.test("compileGlob() refuses wildcards in the directory, a directory, and an open class", () => {
  for (const bad of ["/var/*/pg.csv", "/var/log/", "", "/log/pg[.csv"]) {
    assertThrows(() => compileGlob(bad), TypeError);
  }
});

Deno.test("listGlob() lists matching regular files sorted, and nothing for a missing directory", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["b.csv", "a.csv", "c.log"]) await Deno.writeTextFile(`${dir}/${name}`, "");
    await Deno.mkdir(`${dir}/d.csv`);
    assertEquals(await listGlob(compileGlob(`${dir}/*.csv`)), [`${dir}/a.csv`, `${dir}/b.csv`]);
    assertEquals(await listGlob(compileGlob(`${dir}/missing/*.csv`)), []);
  });
});
