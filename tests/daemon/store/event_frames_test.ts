/**
 * Decoding the events of a run of frames a group at a time (`event_frames.ts`): groups of ASCII
 * bodies are decoded in one call and sliced, others one by one. Whatever the mix — ASCII, multi-byte
 * and 4-byte characters, a body larger than a group — every record is what `readLog` gives, and a
 * body that is not UTF-8, or not JSON, under a CRC that holds is named by its seq.
 */

import { crc32c } from "../../../daemon/store/crc32c.ts";
import { StoreDamageError } from "../../../daemon/store/errors.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { SeqReader } from "../../../daemon/store/seq_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { prng } from "../../support/random.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";

/** Statement `i`: ASCII mostly, now and then a multi-byte or 4-byte character, one very long. */
function statement(i: number): string {
  if (i === 700) return `SELECT '${"y".repeat(40_000)}'`;
  if (i === 701) return `SELECT 'ü${"z".repeat(20_000)}'`;
  if (i % 97 === 5) return `SELECT ${i}, 'ünïcødé'`;
  if (i % 131 === 7) return `SELECT ${i}, '🦀'`;
  return `SELECT ${i} FROM public.t${i % 5} WHERE note = '${"x".repeat(i % 300)}'`;
}

async function fill(dir: string, n: number): Promise<string[]> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
  try {
    for (let at = 0; at < n;) {
      const size = Math.min(n - at, 1 + (at % 211));
      const events = Array.from({ length: size }, (_, k) =>
        testEvent(at + k, {
          statement: statement(at + k),
        }));
      await store.append({ source: "test", events, position: `pos-${at}` });
      at += size;
    }
  } finally {
    await store.close();
  }
  const all: string[] = [];
  for await (const r of readLog(dir)) all.push(r.json);
  return all;
}

Deno.test("records read in groups are the log's, with any mix of ASCII and other text", async () => {
  await withTempDir(async (dir) => {
    const all = await fill(dir, 3000);
    assert(all.some((j) => /🦀/.test(j)) && all.some((j) => j.length > 40_000));
    const reader = await SeqReader.open(dir);
    const check = async (seqs: number[]): Promise<void> => {
      const got = await reader.read(seqs);
      assertEquals(got.map((r) => r.seq), [...new Set(seqs)].sort((a, b) => a - b));
      for (const r of got) {
        assertEquals(r.json, all[r.seq]);
        assertEquals(r.event, JSON.parse(all[r.seq]!));
      }
    };
    await check(Array.from({ length: 3000 }, (_, i) => i));
    await check(Array.from({ length: 40 }, (_, i) => 680 + i)); // the long bodies among short
    const rand = prng(11);
    for (let round = 0; round < 30; round++) {
      await check(
        Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 3000)),
      );
    }
  });
});

/** Rewrites the body of seq `seq` in the first segment with `patch` and a CRC that holds. */
async function damage(dir: string, seq: number, patch: (body: Uint8Array) => void): Promise<void> {
  const [first] = await segmentPaths(dir);
  const bytes = await Deno.readFile(first!);
  const at = new TextDecoder("latin1").decode(bytes).indexOf(`{"seq":${seq},`);
  const p = at - 33, off = p - 8;
  const view = new DataView(bytes.buffer);
  const len = view.getUint32(off);
  patch(bytes.subarray(at, p + len));
  view.setUint32(off + 4, crc32c(bytes, p, p + len));
  await Deno.writeFile(first!, bytes);
}

Deno.test("a body that is not UTF-8 or not JSON among ASCII ones is named by its seq", async () => {
  await withTempDir(async (dir) => {
    await fill(dir, 300);
    // 20 and 40 are ASCII events, in the middle of a group; 41 too, after the damaged one.
    await damage(dir, 20, (body) => body[body.length - 5] = 0xff);
    await damage(dir, 40, (body) => body[body.length - 1] = "x".charCodeAt(0));
    const reader = await SeqReader.open(dir);
    const utf8 = await assertRejects(() => reader.read([18, 19, 20, 21]), StoreDamageError);
    assertEquals(utf8.place.seq, 20);
    assert(/undecodable event/.test(utf8.message), utf8.message);
    const json = await assertRejects(() => reader.read([38, 39, 40, 41]), StoreDamageError);
    assertEquals(json.place.seq, 40);
    assert(/undecodable event/.test(json.message), json.message);
    assertEquals((await reader.read([19, 21, 39, 41])).map((r) => r.seq), [19, 21, 39, 41]);
  });
});
