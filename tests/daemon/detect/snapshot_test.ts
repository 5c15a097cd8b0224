import { AlertStore } from "../../../daemon/detect/alert_store.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import {
  configFingerprint,
  encodeSnapshot,
  readSnapshot,
  snapshotHeader,
  snapshotPath,
  writeSnapshot,
} from "../../../daemon/detect/snapshot.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals, assertMatch, assertNotEquals } from "../../support/assert.ts";
import { generateScenario, SENSITIVE } from "../../support/scenario.ts";
import { withTempDir } from "../../support/store.ts";

const cfg = () => ({ ...defaultDetectConfig(), sensitive_objects: SENSITIVE });

function records(seed: number, days: number): { seq: number; event: AuditEvent }[] {
  return generateScenario({ seed, days }).events.map((e, seq) => ({
    seq,
    event: { ...e, seq, ingest_ts: e.ts } as AuditEvent,
  }));
}

async function roundTrip(dir: string, engine: DetectEngine): Promise<unknown[]> {
  const header = snapshotHeader({ seq: engine.lastSeq, config: "c", lineage: "l", last: "d" });
  await writeSnapshot(dir, encodeSnapshot(header, engine.saveState()));
  const read = await readSnapshot(dir);
  assert(read.kind === "ok", JSON.stringify(read));
  assertEquals(read.header.seq, engine.lastSeq);
  return [...read.lines()];
}

Deno.test("DetectEngine state saved to a snapshot and loaded goes on exactly as the engine that never stopped", async () => {
  await withTempDir(async (dir) => {
    const recs = records(7, 28);
    const whole = new DetectEngine(cfg());
    whole.feed(recs);
    whole.flush();
    const expected = whole.list();
    assert(expected.length >= 10, `only ${expected.length} alerts`);

    // Cut in the middle of everything: open windows, incidents merging, models trained.
    for (const share of [0.3, 0.6, 0.85]) {
      const cut = Math.floor(recs.length * share);
      const first = new DetectEngine(cfg());
      first.feed(recs.slice(0, cut));
      const lines = await roundTrip(dir, first);
      // The alert store is kept beside the snapshot (alerts.db): the new engine shares it.
      const alerts = AlertStore.memory();
      for (const a of first.list()) alerts.put(a);
      const second = new DetectEngine(cfg(), { alerts });
      second.loadState(lines);
      assertEquals(second.lastSeq, cut - 1);
      assertEquals(second.events, cut);
      assertEquals(second.fed, 0);
      assertEquals(JSON.stringify(second.saveState()), JSON.stringify(first.saveState()));
      second.feed(recs.slice(cut));
      second.flush();
      assertEquals(second.fed, recs.length - cut);
      assertEquals(second.list(), expected, `cut at ${share}`);
      alerts.close();
    }
  });
});

Deno.test("readSnapshot() tells a missing, a cut-short and a byte-flipped snapshot from a sound one", async () => {
  await withTempDir(async (dir) => {
    assertEquals(await readSnapshot(dir), { kind: "missing" });
    const engine = new DetectEngine(cfg());
    engine.feed(records(3, 10));
    await roundTrip(dir, engine);
    const good = await Deno.readFile(snapshotPath(dir));
    assert(good.length > 10_000, `${good.length} bytes`);
    const damaged = async (bytes: Uint8Array): Promise<string> => {
      await Deno.writeFile(snapshotPath(dir), bytes);
      const r = await readSnapshot(dir);
      assert(r.kind === "damaged", `read as ${r.kind}`);
      return r.why;
    };
    // A flipped bit anywhere: the header, a state line, the end line's checksum.
    for (const at of [5, 100, Math.floor(good.length / 2), good.length - 20]) {
      const flipped = good.slice();
      flipped[at]! ^= 0x04;
      assertMatch(await damaged(flipped), /checksum|end line|header/);
    }
    for (const len of [0, 1, 4000, good.length - 1, good.length - 2]) {
      assertMatch(await damaged(good.slice(0, len)), /cut short|end line/);
    }
    // The end line of another snapshot does not vouch for this one.
    const text = new TextDecoder().decode(good);
    const extra = text.replace("\n", '\n{"t":"site","since":1,"watermark":2}\n');
    assertMatch(await damaged(new TextEncoder().encode(extra)), /checksum/);
    await Deno.writeFile(snapshotPath(dir), good);
    assertEquals((await readSnapshot(dir)).kind, "ok");
  });
});

Deno.test("configFingerprint() follows what detection judges by, not where alerts go or key order", () => {
  const base = configFingerprint(cfg());
  assertEquals(
    configFingerprint({
      ...cfg(),
      channels: { webhook: { url: "http://x/", retries: 1, backoff_ms: 1, min_severity: "low" } },
    }),
    base,
  );
  const reordered = Object.fromEntries(Object.entries(cfg()).reverse());
  assertEquals(configFingerprint(reordered as ReturnType<typeof cfg>), base);
  assertNotEquals(configFingerprint({ ...cfg(), bulk_read_objects: 21 }), base);
  assertNotEquals(configFingerprint({ ...cfg(), disabled: ["off_hours"] }), base);
  assertNotEquals(configFingerprint({ ...cfg(), timezone: "Europe/Berlin" }), base);
});
