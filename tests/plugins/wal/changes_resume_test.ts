/**
 * Exactly once across crashes: the recorded workload is fed to an assembler that "stores"
 * batches at random moments and "crashes" at random moments (losing what it had not stored);
 * each restart resumes from the stored position while the stream is sent again from the start.
 * What ends up stored must equal one uninterrupted run, event for event — whatever the hold
 * limit, which decides how transactions are split across batches.
 */
import type { NewEvent } from "../../../daemon/event/model.ts";
import { ChangeAssembler } from "../../../plugins/wal/changes.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";
import { type DecodedPayload, decodePayload } from "../../../plugins/wal/pgoutput.ts";
import { assertEquals } from "../../support/assert.ts";
import { hexBytes, parseChangeRow } from "./_workload.ts";

const SEED = Number(Deno.env.get("VIGIL_PROPERTY_SEED") ?? Date.now() % 2 ** 31);

async function payloads(): Promise<DecodedPayload[]> {
  const url = new URL("../../testdata/pgoutput/workload.tsv", import.meta.url);
  const lines = (await Deno.readTextFile(url)).split("\n").filter((l) => l !== "");
  return lines.map(parseChangeRow).map((r) =>
    decodePayload({ lsn: parseLsn(r.lsn), data: hexBytes(r.hex) })
  );
}

function assembler(holdLimit: number, resume?: string): ChangeAssembler {
  return new ChangeAssembler({ source: "wal", db: "postgres", holdLimit, resume, now: () => 7 });
}

function uninterrupted(stream: DecodedPayload[], holdLimit: number): NewEvent[] {
  const asm = assembler(holdLimit);
  for (const p of stream) asm.push(p);
  return asm.take()?.events ?? [];
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("ChangeAssembler stores every event once across random crashes and restarts", async () => {
  const stream = await payloads();
  const random = mulberry32(SEED);
  for (let trial = 0; trial < 300; trial++) {
    const holdLimit = Math.floor(random() * 5);
    const stored: NewEvent[] = [];
    let position: string | undefined;
    let crashes = 0;
    for (let done = false; !done;) {
      const asm = assembler(holdLimit, position);
      done = true;
      for (const payload of stream) {
        asm.push(payload);
        if (random() < 0.3) {
          const batch = asm.take();
          if (batch) [stored.push(...batch.events), position = batch.position];
        }
        if (crashes < 20 && random() < 0.03) {
          crashes++;
          done = false;
          break;
        }
      }
      if (done) {
        const batch = asm.take();
        if (batch) [stored.push(...batch.events), position = batch.position];
      }
    }
    const expected = uninterrupted(stream, holdLimit);
    assertEquals(
      stored.map((e) => e.source_pos),
      expected.map((e) => e.source_pos),
      `seed ${SEED}, trial ${trial}, hold limit ${holdLimit}, ${crashes} crashes`,
    );
    assertEquals(stored, expected, `seed ${SEED}, trial ${trial}`);
  }
});

Deno.test("ChangeAssembler attaches context the same way whatever the hold limit allows", async () => {
  const stream = await payloads();
  const withContext = (events: NewEvent[]) =>
    events.filter((e) => e.context !== undefined).map((e) => e.source_pos);
  const held = withContext(uninterrupted(stream, 1000));
  // With no holding at all, the change before the context message goes without it.
  const streamed = withContext(uninterrupted(stream, 0));
  assertEquals(held.length, 3);
  assertEquals(streamed, held.slice(1));
});
