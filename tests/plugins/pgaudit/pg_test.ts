/**
 * Against a live PostgreSQL 15 with pgAudit from the test harness: run the nasty workload, read
 * the three log files the server wrote — through the `TransformStream`s, in the chunks a file
 * read gives — and check that every format gives the same statements back byte for byte.
 */

import { csvLogRecord, CsvLogStream } from "../../../plugins/pgaudit/csvlog.ts";
import { type LogEvent, logEvent } from "../../../plugins/pgaudit/events.ts";
import { jsonLogRecord, JsonLogStream } from "../../../plugins/pgaudit/jsonlog.ts";
import type { LogRecord } from "../../../plugins/pgaudit/record.ts";
import { StderrLogStream } from "../../../plugins/pgaudit/stderr.ts";
import { startPostgres } from "../../support/postgres.ts";
import {
  assertSameEvents,
  assertTiles,
  checkWorkload,
  comparable,
  type Format,
} from "./_expect.ts";
import { runWorkload, SESSIONS } from "./_workload.ts";

async function readLog(format: Format, path: string, prefix: string): Promise<LogRecord[]> {
  const file = await Deno.open(path);
  const opts = { file: path };
  const bytes = file.readable;
  if (format === "csvlog") {
    const s = bytes.pipeThrough(new CsvLogStream(opts));
    return (await Array.fromAsync(s)).map(csvLogRecord);
  }
  if (format === "jsonlog") {
    const s = bytes.pipeThrough(new JsonLogStream(opts));
    return (await Array.fromAsync(s)).map((r) => jsonLogRecord(r, path));
  }
  return await Array.fromAsync(
    bytes.pipeThrough(new StderrLogStream({ ...opts, logLinePrefix: prefix })),
  );
}

Deno.test("the live server's csvlog, jsonlog and stderr logs give the workload back exactly", async () => {
  await using pg = await startPostgres({ passwordAuth: true });
  await runWorkload(pg);
  const files = await pg.logFiles();
  const views = [];
  for (const format of ["csvlog", "jsonlog", "stderr"] as const) {
    const path = files[format];
    const records = await readLog(format, path, pg.logLinePrefix);
    assertTiles(records, (await Deno.stat(path)).size, format);
    const events: LogEvent[] = [];
    for (const r of records) {
      const e = logEvent(r, { source: "live", file: path });
      if (e !== undefined) events.push(e);
    }
    checkWorkload(format, events, SESSIONS);
    views.push(events.map(comparable));
  }
  assertSameEvents(views[0]!, views[1]!, "jsonlog vs csvlog");
  assertSameEvents(views[0]!, views[2]!, "stderr vs csvlog");
});
