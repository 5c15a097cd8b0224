/**
 * The pgAudit source and its "Test connection" probe read only what a configured source could,
 * and never inside a Vigil data directory — which they know by its marks, as no configuration
 * tells them where it is: pointed at the web UI's `secrets/`, at the data directory through a
 * symbolic link, or with `current_logfiles` at `managed.toml`, the probe says so and reads
 * nothing, and the source refuses to start, storing nothing.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { SourceError } from "../../../daemon/source.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { sourcePlugin } from "../../../plugins/mod.ts";
import { pgauditSource } from "../../../plugins/pgaudit/mod.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { auditMessage, csvRow } from "./_build.ts";

const SECRET = "wal-pw-never-shown";

/** A data directory as `vigil serve` leaves it, with a secret the web UI stored. */
async function dataDir(dir: string): Promise<string> {
  const data = `${dir}/data`;
  await (await Store.open(data, { checkpointIntervalMs: 0 })).close();
  await Deno.mkdir(`${data}/secrets`);
  // A secret written as a csvlog row would be: were it read, it would be stored whole.
  await Deno.writeTextFile(
    `${data}/secrets/billing.password`,
    csvRow({ line: 1, message: auditMessage(`SELECT '${SECRET}'`) }),
  );
  return data;
}

const table = (path: string, extra: Record<string, unknown> = {}) => ({
  name: "hr-log",
  type: "pgaudit",
  path,
  format: "csvlog",
  ...extra,
});

Deno.test("pgAudit probe refuses paths inside a data directory and reads nothing there", async () => {
  await withTempDir(async (dir) => {
    const data = await dataDir(dir);
    await Deno.mkdir(`${dir}/logs`);
    await Deno.writeTextFile(`${dir}/logs/pg.csv`, csvRow({ line: 1, message: "hello" }));
    await Deno.symlink(data, `${dir}/looks-like-logs`);
    const probe = sourcePlugin("pgaudit").probe;
    for (
      const [t, key] of [
        [table(`${data}/secrets/*`), "path"],
        [table(`${dir}/looks-like-logs/secrets/*.password`), "path"],
        [
          table(`${dir}/logs/*.csv`, { current_logfiles: `${data}/managed.toml` }),
          "current_logfiles",
        ],
      ] as const
    ) {
      const r = await probe(t);
      assertEquals(r.ok, false);
      assertEquals(r.lines.length, 1, r.lines.join("\n"));
      assert(r.lines[0]!.startsWith(`configuration: Bad "${key}"`), r.lines[0]);
      assert(r.lines[0]!.includes("inside the data directory"), r.lines[0]);
      assert(!r.lines.join("\n").includes(SECRET), "the secret was read");
    }
    // Beside the data directory, the probe works as before.
    const ok = await probe(table(`${dir}/logs/*.csv`, { current_logfiles: false }));
    assert(ok.ok, ok.lines.join("\n"));
  });
});

Deno.test("pgAudit source pointed inside a data directory refuses to start and stores nothing", async () => {
  await withTempDir(async (dir) => {
    const data = await dataDir(dir);
    const store = await Store.open(`${dir}/other-store`, { checkpointIntervalMs: 0 });
    try {
      const source = pgauditSource({
        path: `${data}/secrets/*.password`,
        format: "csvlog",
        current_logfiles: false,
        poll_interval_ms: 20,
      });
      const error = await assertRejects(
        () => runSource(store, source, { name: "hr-log", signal: AbortSignal.timeout(5000) }),
        SourceError,
      );
      assertEquals(error.stage, "connect");
      assert(error.message.includes("inside the data directory"), error.message);
    } finally {
      await store.close();
    }
    const stored: AuditEvent[] = [];
    for await (const r of readLog(`${dir}/other-store`)) stored.push(r.event);
    assertEquals(stored, []);
  });
});
