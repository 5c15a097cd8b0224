/**
 * `vigil query --data DIR [filters] [--format jsonl|table]`: searches events. The index answers
 * what it holds; events newer than the index (a writer appending right now, or an index that
 * was deleted) are read from the log and filtered with the same semantics, so a query never
 * misses a durable event. Terminal output escapes control characters: statement text is
 * attacker-controlled.
 */

import { formatRfc3339Micros, parseRfc3339Micros } from "../event/time.ts";
import { type AuditEvent, EVENT_KINDS, type EventKind } from "../event/model.ts";
import { compileFilter, type EventFilter, matchesCompiled } from "../index/filter.ts";
import { openIndexForRead } from "../index/feed.ts";
import { print } from "../log.ts";
import { readLog } from "../store/log_reader.ts";
import { intFlag, noRest, parseFlags, required, UsageError } from "./args.ts";
import { canonicalJson } from "../event/canonical.ts";
import { renderTable } from "./table.ts";

function timeFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseRfc3339Micros(v);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
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
  const order = values.order ?? "asc";
  if (order !== "asc" && order !== "desc") throw new UsageError("--order must be asc or desc");
  const filter: EventFilter = { order, limit: intFlag(values.limit, "limit") ?? 1000 };
  for (const k of ["source", "role", "db", "object", "command", "text"] as const) {
    if (values[k] !== undefined) filter[k] = values[k];
  }
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
    await Deno.stat(`${data}/segments`);
  } catch {
    throw new UsageError(`${data} is not a Vigil data directory (no segments/)`);
  }

  const index = openIndexForRead(data);
  let indexed: AuditEvent[] = [];
  let lastIndexed = -1;
  try {
    if (index) {
      lastIndexed = index.lastSeq();
      indexed = index.query({ ...filter, beforeSeq: lastIndexed + 1 });
    } else {
      console.error(`vigil query: no search index in ${data}; scanning the log (vigil reindex)`);
    }
  } catch (e) {
    throw new UsageError(`bad filter: ${(e as Error).message}`);
  } finally {
    index?.close();
  }
  const compiled = compileFilter(filter);
  const tail: AuditEvent[] = [];
  for await (const r of readLog(data, { fromSeq: lastIndexed + 1 })) {
    if (matchesCompiled(r.event, compiled)) tail.push(r.event);
  }
  const limit = filter.limit!;
  const events = order === "asc"
    ? [...indexed, ...tail].slice(0, limit)
    : [...tail.reverse(), ...indexed].slice(0, limit);
  if (format === "jsonl") {
    for (const ev of events) print(canonicalJson(ev));
  } else {
    print(renderTable(events, formatRfc3339Micros));
  }
  return 0;
}
