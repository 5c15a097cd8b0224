/**
 * The pgoutput decoder and the transaction assembler over real messages recorded from
 * PostgreSQL 15 (`tests/testdata/pgoutput/`, re-recorded by `record.ts` there): every value must
 * equal the server's own text output at each step of the workload, with no server running.
 */
import { assemble } from "./_replay.ts";
import { type ChangeRow, parseChangeRow, type WorkloadRecord } from "./_workload.ts";
import { checkWorkload } from "./_workload_expect.ts";

const dir = new URL("../../testdata/pgoutput/", import.meta.url);

async function fixture(): Promise<{ rows: ChangeRow[]; record: WorkloadRecord }> {
  const tsv = await Deno.readTextFile(new URL("workload.tsv", dir));
  const rows = tsv.split("\n").filter((line) => line !== "").map(parseChangeRow);
  const record = JSON.parse(await Deno.readTextFile(new URL("workload.json", dir)));
  return { rows, record };
}

Deno.test("decodePgOutput() and ChangeAssembler turn recorded messages into exact events", async () => {
  const { rows, record } = await fixture();
  checkWorkload(assemble(rows), rows, record);
});
