/**
 * A property of the tailer, over random histories: whatever the order of appends in random
 * pieces (records cut anywhere), rename rotations, copytruncates, truncations on rotation and
 * crashes (a restart from an earlier durable position, what was handed on after it forgotten),
 * every record written is handed on exactly once in the end, and none comes out bad. Seeded:
 * a failure names its seed.
 */

import { prng } from "../../support/random.ts";
import { assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { append, auditRows, type TailHarness, tailHarness } from "./_tail_harness.ts";

// 12 histories in CI; the soak runs many more.
const SEEDS = Deno.env.get("VIGIL_SOAK_ROUNDS") === undefined ? 12 : 400;
const STEPS = 80;

async function history(seed: number, dir: string): Promise<void> {
  const rand = prng(seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  const glob = `${dir}/pg*.csv*`;
  const current = `${dir}/pg.csv`;
  let h: TailHarness = tailHarness(glob, { graceMs: 1000 });
  /** What the store holds: statements handed on up to the last durable position. */
  let durable: string[] = [];
  let snapshots: { position: string; count: number }[] = [];
  const written: string[] = [];
  let pending = ""; // the rest of records begun in the current file
  let next = 0;
  let rotations = 0;
  const writeSome = async (): Promise<void> => {
    if (pending === "") {
      const n = 1 + pick(5);
      pending = auditRows(`s${seed}`, next, next + n);
      for (let i = next; i < next + n; i++) written.push(`SELECT 's${seed}-${i}'`);
      next += n;
    }
    const cut = pick(3) === 0 ? pending.length : 1 + pick(pending.length);
    await append(current, pending.slice(0, cut));
    pending = pending.slice(cut);
  };
  const finishRecord = async (): Promise<void> => {
    if (pending !== "") await append(current, pending);
    pending = "";
  };
  for (let step = 0; step < STEPS; step++) {
    const op = pick(10);
    if (op < 5) await writeSome();
    else if (op === 5) {
      await finishRecord();
      await Deno.rename(current, `${dir}/pg-${++rotations}.csv`).catch(() => {});
    } else if (op === 6) {
      await finishRecord();
      try {
        await Deno.copyFile(current, `${current}.${++rotations}`);
        await Deno.truncate(current, 0);
      } catch { /* no current file yet */ }
    } else if (op === 7) {
      // log_truncate_on_rotation reuses an old name; only what was read may be overwritten.
      await finishRecord();
      await h.poll();
      // What was read is durable before the name is reused (PostgreSQL reuses a name a whole
      // rotation period later): a crash cannot go back before this.
      durable.push(...h.statements());
      h.seen.length = 0;
      snapshots = [{ position: h.position(), count: durable.length }];
      const olds = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        /^pg-\d+\.csv$/.test(n)
      );
      if (olds.length > 0) {
        await Deno.rename(current, `${dir}/pg-${++rotations}.csv`).catch(() => {});
        const reused = `${dir}/${olds[pick(olds.length)]}`;
        await Deno.writeTextFile(reused, "");
        await Deno.rename(reused, current);
      }
    } else if (op === 8 && snapshots.length > 0) {
      // Crash: the store had made some earlier batch durable, nothing after it.
      const s = snapshots[snapshots.length - 1 - pick(Math.min(3, snapshots.length))]!;
      h.tailer.close();
      durable = durable.slice(0, s.count);
      h = tailHarness(glob, { graceMs: 1000, position: s.position });
      snapshots = [];
    } else {
      h.clock.now += pick(700);
      await h.poll(1);
      durable.push(...h.statements());
      h.seen.length = 0;
      snapshots.push({ position: h.position(), count: durable.length });
    }
  }
  await finishRecord();
  for (let i = 0; i < 3; i++) {
    h.clock.now += 2000;
    await h.poll(2);
  }
  durable.push(...h.statements());
  h.tailer.close();
  const bad = durable.filter((s) => s.startsWith("BAD"));
  assertEquals(bad, [], `seed ${seed}: no bad records`);
  assertEquals([...durable].sort(), [...written].sort(), `seed ${seed}: each record once`);
}

Deno.test("Tailer hands on every record exactly once across random appends, rotations and crashes", async () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    await withTempDir((dir) => history(seed, dir));
  }
});
