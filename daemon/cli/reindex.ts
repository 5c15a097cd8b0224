/**
 * `vigil reindex --data DIR`: rebuilds the derived search index from the log. The index holds
 * nothing the log does not (not even copies of events: those are always read from the log), so
 * this loses nothing; it is also how rows changed by hand stop costing searches a read of their
 * block from the log. It takes the writer lock so that it never races a running daemon's own
 * index feed.
 */

import { rebuildIndex } from "../index/feed.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required } from "./args.ts";

/** Runs `vigil reindex`; returns the exit code. */
export async function reindexCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { data: { type: "string" } });
  noRest(rest);
  const data = required(values.data, "data");
  const n = await rebuildIndex(data);
  print(`reindexed ${n} events`);
  return 0;
}
