/**
 * untrustedRanges() against the block-by-block rule it implements, on tallies damaged at random
 * (rows removed, counts off, edits) and at random claims and ranges: a block is vouched for only
 * when its row counts exactly the seqs the claims hold there and no edit.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TALLY_BLOCK } from "../../../daemon/index/schema.ts";
import { type SeqRange, untrustedRanges } from "../../../daemon/index/tally.ts";

/** The rule, one block at a time. */
function oracle(
  rows: Map<number, { rows: number; edits: number }>,
  [from, to]: SeqRange,
  claims: { first: number; last: number },
): SeqRange[] {
  const out: [number, number][] = [];
  if (!(from < to)) return out;
  for (let b = Math.floor(from / TALLY_BLOCK); b <= Math.floor((to - 1) / TALLY_BLOCK); b++) {
    const start = b * TALLY_BLOCK, end = start + TALLY_BLOCK;
    const expected = Math.max(0, Math.min(end, claims.last + 1) - Math.max(start, claims.first));
    const c = rows.get(b);
    if (c === undefined ? expected === 0 : c.edits === 0 && c.rows === expected) continue;
    const clipped: [number, number] = [Math.max(start, from), Math.min(end, to)];
    const prev = out[out.length - 1];
    if (prev && prev[1] === clipped[0]) prev[1] = clipped[1];
    else out.push(clipped);
  }
  return out;
}

/** A deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

Deno.test("untrustedRanges() names exactly the blocks the per-block rule does", () => {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec(`CREATE TABLE tally (block INTEGER PRIMARY KEY, rows INTEGER NOT NULL,
      edits INTEGER NOT NULL DEFAULT 0)`);
    const rand = random(13);
    const int = (n: number) => Math.floor(rand() * n);
    for (let round = 0; round < 300; round++) {
      db.exec("DELETE FROM tally");
      const blocks = 1 + int(40);
      const first = int(3) * TALLY_BLOCK + (rand() < 0.5 ? 0 : int(TALLY_BLOCK));
      const last = Math.max(
        first,
        blocks * TALLY_BLOCK - 1 - (rand() < 0.5 ? 0 : int(TALLY_BLOCK)),
      );
      const claims = { first, last };
      const rows = new Map<number, { rows: number; edits: number }>();
      for (let b = Math.floor(first / TALLY_BLOCK); b <= Math.floor(last / TALLY_BLOCK); b++) {
        const start = b * TALLY_BLOCK;
        const held = Math.min(start + TALLY_BLOCK, last + 1) - Math.max(start, first);
        const damage = rand();
        if (damage < 0.05) continue; // the row removed by hand
        const row = {
          rows: damage < 0.1 ? held - 1 - int(3) : damage < 0.12 ? held + 1 : held,
          edits: damage > 0.95 ? 1 + int(3) : 0,
        };
        rows.set(b, row);
        db.prepare("INSERT INTO tally (block, rows, edits) VALUES (?, ?, ?)")
          .run(b, row.rows, row.edits);
      }
      for (let q = 0; q < 10; q++) {
        // Mostly within the claims, as searches ask; sometimes past either end.
        const a = Math.max(0, first - int(TALLY_BLOCK) + int(last - first + TALLY_BLOCK));
        const range: SeqRange = [a, a + 1 + int(last + TALLY_BLOCK - a)];
        const where = JSON.stringify({ round, claims, range, rows: [...rows] });
        assert.deepEqual(untrustedRanges(db, range, claims), oracle(rows, range, claims), where);
      }
    }
  } finally {
    db.close();
  }
});
