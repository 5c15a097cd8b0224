/**
 * `vigil ingest --data DIR --source NAME`: appends JSON-lines events from stdin. Each malformed
 * line is reported with its line number on stderr and not stored; every good line is stored
 * (durably, in order) and the exit code is 1 if any line was bad. A report quotes parts of the
 * bad line, which came from anyone: its control and bidi characters are shown as `\uXXXX`, so
 * that the line cannot drive the operator's terminal. Secrets are redacted and numbers kept
 * exact on the way (`validateEvent`, `parseJsonExact`), as for the HTTP API.
 */

import { JsonLinesStream } from "../event/jsonl.ts";
import type { NewEvent } from "../event/model.ts";
import { attachIndex } from "../index/feed.ts";
import { print } from "../log.ts";
import { type AppendResult, Store } from "../store/store.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";
import { escapeForTerminal } from "./table.ts";

const BATCH = 4096;
/** Appends in flight at once: enough to keep the disk busy while the next batch is encoded. */
const IN_FLIGHT = 4;

/** Runs `vigil ingest`; returns the exit code. */
export async function ingestCommand(
  argv: string[],
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    source: { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const source = required(values.source, "source");
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(source)) {
    throw new UsageError(`--source must be letters, digits, '.', '_' or '-' (got ${source})`);
  }
  // As `serve` does by default: what ingest seals is stored compressed.
  const store = await Store.open(data, { compressSealed: true });
  const index = await attachIndex(store);
  let stored = 0;
  let bad = 0;
  let first: number | undefined;
  const inflight: Promise<AppendResult>[] = [];
  const settle = async (): Promise<void> => {
    const r = await inflight.shift()!;
    first ??= r.firstSeq;
    stored += r.count;
  };
  try {
    let batch: NewEvent[] = [];
    for await (const r of input.pipeThrough(new JsonLinesStream({ source }))) {
      if ("error" in r) {
        bad++;
        console.error(`line ${r.line}: ${escapeForTerminal(r.error)}`);
        continue;
      }
      batch.push(r.event);
      if (batch.length >= BATCH) {
        inflight.push(store.append({ source, events: batch }));
        batch = [];
        if (inflight.length >= IN_FLIGHT) await settle();
      }
    }
    if (batch.length > 0) inflight.push(store.append({ source, events: batch }));
    while (inflight.length > 0) await settle();
    // The index leaves with everything stored (a stop in between would leave it behind).
    await index.drain();
  } finally {
    await Promise.allSettled(inflight);
    await index.close();
    await store.close();
  }
  const range = stored > 0 ? ` (seq ${first}..${first! + stored - 1})` : "";
  print(`stored ${stored} events${range}; ${bad} bad lines`);
  return bad > 0 ? 1 : 0;
}
