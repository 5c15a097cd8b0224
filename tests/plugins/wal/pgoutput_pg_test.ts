/**
 * The pgoutput decoder and the transaction assembler against a live PostgreSQL 15: the mixed
 * workload of `_workload.ts` runs on a throwaway cluster, the slot's raw messages are decoded,
 * and every event must match the server's own text output of the tables at each step, its
 * commit times and xids. Protocol version 2 (without streaming) must give the same messages.
 */
import { parseLsn } from "../../../plugins/wal/lsn.ts";
import {
  type DecodedPayload,
  decodePayload,
  PgOutputDecoderStream,
} from "../../../plugins/wal/pgoutput.ts";
import { assertEquals } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { assemble } from "./_replay.ts";
import {
  commitTimes,
  createSlot,
  hexBytes,
  peekChanges,
  runWorkload,
  WORKLOAD_SETTINGS,
} from "./_workload.ts";
import { checkWorkload } from "./_workload_expect.ts";

Deno.test("pgoutput from a live PostgreSQL decodes to the server's own text, exactly", async () => {
  await using pg = await startPostgres({ settings: WORKLOAD_SETTINGS });
  await createSlot(pg);
  const record = await runWorkload(pg);
  const rows = await peekChanges(pg, 1);
  record.commitTimes = await commitTimes(pg, rows);
  checkWorkload(assemble(rows), rows, record);

  // Version 2 differs only in streaming, which is not requested: the same bytes arrive.
  assertEquals(await peekChanges(pg, 2), rows);

  // The stream decoder gives what the function does.
  const payloads = rows.map((r) => ({ lsn: parseLsn(r.lsn), data: hexBytes(r.hex) }));
  const streamed: DecodedPayload[] = [];
  await ReadableStream.from(payloads).pipeThrough(new PgOutputDecoderStream()).pipeTo(
    new WritableStream({ write: (d) => void streamed.push(d) }),
  );
  assertEquals(streamed, payloads.map(decodePayload));
});
