/**
 * `vigil query --data DIR [filters] [--format jsonl|table] [--order asc|desc] [--limit N]`:
 * searches events and streams every match, in bounded memory, unless `--limit` cuts it. Every
 * event printed is read from the log (`daemon/index/search.ts`): the index only nominates seqs,
 * and where it cannot answer — events newer than it (a writer appending right now), no index at
 * all, rows changed or removed by hand — the log is scanned with the same semantics, so a query
 * never misses a durable event and never shows one other than the log holds. JSON lines are the
 * stored canonical bytes. A table needs every row before it can size its columns, so it stops at
 * {@link TABLE_DEFAULT_LIMIT} rows unless `--limit` says otherwise, and says so on stderr.
 * Terminal output escapes control characters: statement text is attacker-controlled.
 */

import { formatRfc3339Micros, parseRfc3339Micros } from "../event/time.ts";
import { type AuditEvent, EVENT_KINDS, type EventKind } from "../event/model.ts";
import { compileFilter, type EventFilter, TEXT_FILTERS } from "../index/filter.ts";
import { openIndexForRead } from "../index/feed.ts";
import { searchLog } from "../index/search.ts";
import { log, print } from "../log.ts";
import { SeqReader } from "../store/seq_reader.ts";
import { intFlag, noRest, parseFlags, required, UsageError } from "./args.ts";
import { renderTable } from "./table.ts";

/** Rows a table shows when `--limit` is not given. */
export const TABLE_DEFAULT_LIMIT = 1000;

function timeFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseRfc3339Micros(v);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

/** The text filters of the flags of the same names. */
const TEXT_FLAGS = TEXT_FILTERS;

/** The filter the flags describe; throws UsageError for a bad one. */
function filterOf(values: Record<string, string | undefined>): EventFilter {
  const order = values.order ?? "asc";
  if (order !== "asc" && order !== "desc") throw new UsageError("--order must be asc or desc");
  const filter: EventFilter = { order };
  const limit = intFlag(values.limit, "limit");
  if (limit !== undefined) filter.limit = limit;
  for (const k of TEXT_FLAGS) if (values[k] !== undefined) filter[k] = values[k];
  const xid = intFlag(values.xid, "xid");
  if (xid !== undefined) filter.xid = xid;
  const minRows = intFlag(values["min-rows"], "min-rows");
  if (minRows !== undefined) filter.minRows = minRows;
  if (values.kind !== undefined) {
    if (!(EVENT_KINDS as readonly string[]).includes(values.kind)) {
      throw new UsageError(`--kind must be one of ${EVENT_KINDS.join(", ")}`);
    }
    filter.kind = values.kind as EventKind;
  }
  const from = timeFlag(values.from, "from");
  const to = timeFlag(values.to, "to");
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  try {
    compileFilter(filter);
  } catch (e) {
    throw new UsageError(`bad filter: ${(e as Error).message}`);
  }
  return filter;
}

/** Runs `vigil query`; returns the exit code. */
export async function queryCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    source: { type: "string" },
    kind: { type: "string" },
    role: { type: "string" },
    db: { type: "string" },
    object: { type: "string" },
    command: { type: "string" },
    app_user: { type: "string" },
    client_addr: { type: "string" },
    application_name: { type: "string" },
    session_id: { type: "string" },
    xid: { type: "string" },
    sqlstate: { type: "string" },
    "min-rows": { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    text: { type: "string" },
    limit: { type: "string" },
    order: { type: "string" },
    format: { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const format = values.format ?? "jsonl";
  if (format !== "jsonl" && format !== "table") {
    throw new UsageError(`--format must be jsonl or table, got ${JSON.stringify(format)}`);
  }
  const filter = filterOf(values);
  try {
    await Deno.stat(`${data}/segments`);
  } catch {
    throw new UsageError(`${data} is not a Vigil data directory (no segments/)`);
  }
  const cut = format === "table" && filter.limit === undefined;
  // One row past the cap tells whether the table was cut.
  if (cut) filter.limit = TABLE_DEFAULT_LIMIT + 1;

  const index = openIndexForRead(data);
  if (!index) {
    log("warn", `no search index in ${data}; scanning the log (vigil reindex builds one)`);
  }
  try {
    const reader = await SeqReader.open(data);
    const results = searchLog({ index, reader }, filter);
    if (format === "jsonl") {
      for await (const batch of results) print(batch.map((r) => r.json).join("\n"));
      return 0;
    }
    const rows: AuditEvent[] = [];
    for await (const batch of results) for (const r of batch) rows.push(r.event);
    if (cut && rows.length > TABLE_DEFAULT_LIMIT) {
      rows.length = TABLE_DEFAULT_LIMIT;
      log(
        "warn",
        `showing the first ${TABLE_DEFAULT_LIMIT} matches; more match: pass --limit N for more, ` +
          "or --format jsonl for every one",
      );
    }
    print(renderTable(rows, formatRfc3339Micros));
    return 0;
  } finally {
    index?.close();
  }
}
