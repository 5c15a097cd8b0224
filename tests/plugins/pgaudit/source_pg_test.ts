/**
 * The pgAudit source against a live PostgreSQL 15 in all three formats at once: three sources
 * (csvlog, jsonlog, stderr with the server's `log_line_prefix`) tail the same server's logs
 * while a workload issues multi-line statements and the log rotates (`pg_rotate_logfile()`);
 * each source stores every statement exactly once, text byte for byte, with `current_logfiles`
 * telling it which file is current.
 */

import postgres from "postgres";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { pgauditSource, type PgauditSourceConfig } from "../../../plugins/pgaudit/mod.ts";
import { assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

const STATEMENTS = 300;
const statement = (i: number): string =>
  `SELECT 'src-mark-${i}' AS m,\n\t'a "quoted", line' AS n -- ünï ${i}`;
const MARK = /^SELECT 'src-mark-(\d+)' AS m,/;

async function marks(data: string): Promise<Map<number, AuditEvent[]>> {
  const out = new Map<number, AuditEvent[]>();
  for await (const { event } of readLog(data)) {
    const m = MARK.exec(event.statement ?? "");
    if (m === null || event.kind !== "session") continue;
    const list = out.get(Number(m[1])) ?? [];
    list.push(event);
    out.set(Number(m[1]), list);
  }
  return out;
}

Deno.test("pgauditSource() stores each statement of a live server once in csvlog, jsonlog and stderr, across rotations", async () => {
  await using pg = await startPostgres();
  await withTempDir(async (dir) => {
    const formats: [PgauditSourceConfig["format"], string][] = [
      ["csvlog", "*.csv"],
      ["jsonlog", "*.json"],
      ["stderr", "*.log"],
    ];
    const ac = new AbortController();
    const stores: Store[] = [];
    const runs: Promise<void>[] = [];
    try {
      for (const [format, pattern] of formats) {
        const store = await Store.open(`${dir}/${format}`, { checkpointIntervalMs: 0 });
        stores.push(store);
        const source = pgauditSource({
          path: `${pg.logDir}/${pattern}`,
          format,
          current_logfiles: `${pg.dataDir}/current_logfiles`,
          poll_interval_ms: 50,
          ...(format === "stderr" ? { log_line_prefix: pg.logLinePrefix } : {}),
        });
        runs.push(runSource(store, source, { name: format, signal: ac.signal }));
      }
      const sql = postgres({
        host: pg.host,
        port: pg.port,
        database: "postgres",
        username: pg.superuser,
        password: pg.password,
        max: 1,
        fetch_types: false,
        onnotice: () => {},
      });
      try {
        for (let i = 0; i < STATEMENTS; i++) {
          await sql.unsafe(statement(i)).simple();
          if (i % 75 === 74) {
            // File names have seconds: a rotation within the same second reopens the same file.
            await new Promise((resolve) => setTimeout(resolve, 1100));
            await sql.unsafe("SELECT pg_rotate_logfile()").simple();
          }
        }
      } finally {
        await sql.end();
      }
      for (const [format] of formats) {
        await assertEventually(async () => (await marks(`${dir}/${format}`)).size >= STATEMENTS, {
          timeoutMs: 30_000,
          message: `${format}: all ${STATEMENTS} statements stored`,
        });
      }
    } finally {
      ac.abort();
      await Promise.allSettled(runs);
      for (const s of stores) await s.close();
    }
    for (const [format] of formats) {
      const stored = await marks(`${dir}/${format}`);
      const twice = [...stored].filter(([, evs]) => evs.length !== 1).map(([i]) => i);
      assertEquals(twice, [], `${format}: no statement stored twice`);
      for (const [i, [ev]] of stored) {
        assertEquals(ev!.statement, statement(i), `${format}: statement ${i} byte for byte`);
      }
    }
    const files = (await Array.fromAsync(Deno.readDir(pg.logDir))).length;
    assertEquals(files >= 9, true, `the log rotated (${files} files)`);
  });
});
