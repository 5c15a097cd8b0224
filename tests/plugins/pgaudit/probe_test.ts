import { probePgaudit } from "../../../plugins/pgaudit/probe.ts";
import { sourcePlugin } from "../../../plugins/mod.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const TESTDATA = new URL("../../testdata/pgaudit/", import.meta.url).pathname;

const table = (path: string, format: string, extra: Record<string, unknown> = {}) => ({
  name: "logs",
  type: "pgaudit",
  path,
  format,
  ...extra,
});

Deno.test("probePgaudit() finds the files and parses the newest file's first line", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(`${TESTDATA}postgresql.csv`, `${dir}/postgresql-1.csv`);
    await Deno.copyFile(`${TESTDATA}postgresql.csv`, `${dir}/postgresql-2.csv`);
    const r = await sourcePlugin("pgaudit").probe(table(`${dir}/*.csv`, "csvlog"));
    assert(r.ok, r.lines.join("\n"));
    assertEquals(r.lines[0], `2 file(s) match ${dir}/*.csv`);
    assert(r.lines[1]!.includes("first line parses as csvlog"), r.lines[1]);
  });
});

Deno.test("probePgaudit() reports a wrong format, no match, and a bad table", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(`${TESTDATA}postgresql.csv`, `${dir}/postgresql.json`);
    const wrong = await probePgaudit(table(`${dir}/*.json`, "jsonlog"));
    assertEquals(wrong.ok, false);
    assert(wrong.lines.some((l) => l.includes("is not jsonlog")), wrong.lines.join("\n"));

    const none = await probePgaudit(table(`${dir}/*.log`, "csvlog"));
    assertEquals(none, { ok: false, lines: [`no file matches ${dir}/*.log`] });

    const bad = await probePgaudit(table(`${dir}/*.log`, "stderr"));
    assertEquals(bad.ok, false);
    assert(bad.lines[0]!.startsWith("configuration:"), bad.lines[0]);
  });
});

Deno.test("probePgaudit() reads stderr logs with the configured prefix", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(`${TESTDATA}postgresql.log`, `${dir}/postgresql.log`);
    // The fixture's prefix is the test harness's; a different one must not parse.
    const { LOG_LINE_PREFIX } = await import("../../support/postgres.ts");
    const good = await probePgaudit(
      table(`${dir}/*.log`, "stderr", { log_line_prefix: LOG_LINE_PREFIX }),
    );
    assert(good.ok, good.lines.join("\n"));
    const wrong = await probePgaudit(
      table(`${dir}/*.log`, "stderr", { log_line_prefix: "[%p] %m %q%u@%d " }),
    );
    assertEquals(wrong.ok, false, wrong.lines.join("\n"));
  });
});
