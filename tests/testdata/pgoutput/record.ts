/**
 * Records the pgoutput fixtures beside this file from a throwaway PostgreSQL 15:
 * - `workload.tsv`: the raw messages of the mixed workload in `tests/plugins/wal/_workload.ts`,
 *   one `lsn<TAB>xid<TAB>hex` line each, as `pg_logical_slot_peek_binary_changes()` gave them
 *   (protocol version 1, messages on);
 * - `workload.json`: the tables as `col::text` after each step of the workload, and the commit
 *   time of every transaction, which the fixture test checks the decoded events against.
 *
 * Run from the repository root: `deno run --allow-all tests/testdata/pgoutput/record.ts`.
 * LSNs, xids and times differ from run to run; the checks depend on none of them.
 */

import { startPostgres } from "../../support/postgres.ts";
import {
  commitTimes,
  createSlot,
  peekChanges,
  runWorkload,
  WORKLOAD_SETTINGS,
} from "../../plugins/wal/_workload.ts";

const here = new URL(".", import.meta.url);

await using pg = await startPostgres({ settings: WORKLOAD_SETTINGS });
await createSlot(pg);
const record = await runWorkload(pg);
const rows = await peekChanges(pg);
record.commitTimes = await commitTimes(pg, rows);
const tsv = rows.map((r) => `${r.lsn}\t${r.xid}\t${r.hex}\n`).join("");
await Deno.writeTextFile(new URL("workload.tsv", here), tsv);
await Deno.writeTextFile(new URL("workload.json", here), JSON.stringify(record, null, 2) + "\n");
console.log(`recorded ${rows.length} messages from PostgreSQL ${record.serverVersion}`);
