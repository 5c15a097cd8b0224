/**
 * Reading the log past damage: every readable record is yielded in order, in chunks no larger
 * than asked, the rest of a damaged sealed segment is skipped with its seqs and reason reported,
 * and damage in the last segment file (nothing readable after it) is thrown.
 */

import { readLog } from "../../../daemon/store/log_reader.ts";
import { scanPastDamage, type SkippedRange } from "../../../daemon/store/read_past_damage.ts";
import { SeqReader } from "../../../daemon/store/seq_reader.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { segmentPaths, withTempDir } from "../../support/store.ts";
import { fillStore, flipByte, sealedSegments } from "../serve/_damaged_store.ts";

/** The seqs read past damage, and the skips as [from, to) pairs. */
async function read(
  data: string,
  opts: { fromSeq?: number; toSeq?: number; chunk?: number } = {},
): Promise<{ seqs: number[]; skips: number[][]; reasons: string[] }> {
  const skips: SkippedRange[] = [];
  const seqs: number[] = [];
  const reader = await SeqReader.open(data);
  const range = { ...opts, toSeq: opts.toSeq ?? await reader.end() };
  for await (const rs of scanPastDamage(reader, range, (k) => skips.push(k))) {
    assert(rs.length <= (opts.chunk ?? 4096), `a chunk of ${rs.length}`);
    for (const r of rs) seqs.push(r.seq);
  }
  return {
    seqs,
    skips: skips.map((k) => [k.fromSeq, k.toSeq]),
    reasons: skips.map((k) => k.reason),
  };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i);

for (const compressed of [false, true]) {
  Deno.test(`read past damage: a ${compressed ? "compressed" : "plain"} sealed segment`, async () => {
    await withTempDir(async (dir) => {
      const size = await fillStore(dir, { sealed: 3, compressed });
      // Intact: the same records as readLog, and no skip.
      const all: number[] = [];
      for await (const r of readLog(dir)) all.push(r.seq);
      assertEquals(await read(dir), { seqs: all, skips: [], reasons: [] });

      await flipByte((await sealedSegments(dir))[1]!);
      await assertRejects(async () => {
        for await (const _ of readLog(dir)) { /* reads until the damage */ }
      });
      const past = await read(dir);
      assertEquals(past.seqs, [...range(0, 2600), ...range(5200, size)]);
      assertEquals(past.skips, [[2600, 5200]]);
      assertMatch(past.reasons[0]!, /seg-0+2600\.vsegz?/);

      // A read that starts inside the damaged segment, and one that ends inside it.
      const inside = await read(dir, { fromSeq: 3000, toSeq: 5300 });
      assertEquals([inside.seqs, inside.skips], [range(5200, 5300), [[3000, 5200]]]);
      const ending = await read(dir, { fromSeq: 2000, toSeq: 4000 });
      assertEquals([ending.seqs, ending.skips], [range(2000, 2600), [[2600, 4000]]]);

      // In small chunks, what precedes the damage in its segment is read, the rest skipped.
      const small = await read(dir, { chunk: 128 });
      const [from, to] = small.skips[0]!;
      assertEquals([small.skips.length, to], [1, 5200]);
      assert(compressed ? from === 2600 : from! > 2600 && from! < 5200, `skip from ${from}`);
      assertEquals(small.seqs, [...range(0, from!), ...range(5200, size)]);
      assertMatch(small.reasons[0]!, /seg-0+2600\.vsegz?/);
    });
  });
}

Deno.test("read past damage: damage with no segment after it is thrown", async () => {
  await withTempDir(async (dir) => {
    await fillStore(dir, { sealed: 1, compressed: true });
    const [sealed, active] = await segmentPaths(dir);
    await flipByte(sealed!);
    // With the active segment after it, the damaged one is skipped.
    const past = await read(dir);
    assertEquals([past.seqs, past.skips], [[2600], [[0, 2600]]]);
    // Without: nothing is left to read past to, and the error is readLog's.
    await Deno.remove(active!);
    const e = await assertRejects(async () => {
      const reader = await SeqReader.open(dir);
      const range = { toSeq: Infinity };
      for await (const _ of scanPastDamage(reader, range, () => {})) { /* */ }
    });
    assertMatch(e.message, /compressed segment/);
  });
});
