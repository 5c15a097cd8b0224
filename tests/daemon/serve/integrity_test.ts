/**
 * The store's checks inside `serve`, on real stores in temp dirs: the start checks find a
 * sealed segment deleted, cut short or grown and signed checkpoints gone, without reading the
 * records; the background verification (`verifyStore` on its Worker) finds a flipped byte the
 * start checks cannot see; every result is a system event in the chain, the damaged state stays,
 * and the detector that raises `audit_tampering` knows the command.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { auditTampering } from "../../../daemon/detect/rules_event.ts";
import { CORE_GAP_COMMANDS, gapCommands } from "../../../daemon/detect/gap_commands.ts";
import type { EventFacts } from "../../../daemon/detect/detector.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { MerkleFrontier } from "../../../daemon/store/merkle.ts";
import { writeRetainedStart } from "../../../daemon/store/retained.ts";
import { type VerifyReport, verifyStore } from "../../../daemon/store/verify.ts";
import { Store } from "../../../daemon/store/store.ts";
import { STORE_DAMAGED, STORE_VERIFIED, StoreIntegrity } from "../../../daemon/serve/integrity.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { copyDir, withTempDir } from "../../support/store.ts";
import { cutShort, deleteSegment, fillStore, flipByte, sealedSegments } from "./_damaged_store.ts";

const OPEN = { checkpointIntervalMs: 0, compressSealed: true, hashWorker: false };

/** The daemon's events from seq `from` on. */
async function vigilEvents(dataDir: string, from: number): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(dataDir, { fromSeq: from })) {
    if (r.event.source === "vigil") out.push(r.event);
  }
  return out;
}

/** Opens `dataDir`, runs the start checks and `fn`, and closes everything. */
async function withChecked(
  dataDir: string,
  fn: (integrity: StoreIntegrity, store: Store) => Promise<void>,
): Promise<void> {
  const store = await Store.open(dataDir, OPEN);
  try {
    const integrity = await StoreIntegrity.check(store, { source: "vigil" });
    try {
      await fn(integrity, store);
    } finally {
      await integrity.stop();
    }
  } finally {
    await store.close();
  }
}

Deno.test("StoreIntegrity passes an intact store at start and records STORE_VERIFIED after its verification", async () => {
  await withTempDir(async (dir) => {
    const size = await fillStore(dir, { sealed: 3, compressed: true });
    await withChecked(dir, async (integrity) => {
      const before = integrity.status();
      assertEquals([before.state, before.healthy], ["checked", true]);
      assertEquals([before.startCheck.ok, before.startCheck.segments], [true, 4]);
      await integrity.start();
      await integrity.verify("start"); // joins the run start() began
      const s = integrity.status();
      assertEquals([s.state, s.healthy, s.problem], ["intact", true, null]);
      assertEquals(s.lastVerification?.events, size);
      assertEquals(s.runs, { intact: 1, damaged: 0 });
      assert(s.nextAt !== null && s.verifying === null, JSON.stringify(s));
      const events = await vigilEvents(dir, size);
      assertEquals(events.map((e) => [e.kind, e.command]), [["system", STORE_VERIFIED]]);
      assertEquals(events[0]!.context?.trigger, "start");
      assertEquals(events[0]!.context?.events, size);
    });
  });
});

Deno.test("StoreIntegrity gives onRun each verification as it begins, once `after` settled, ending with it", async () => {
  await withTempDir(async (dir) => {
    const size = await fillStore(dir, { sealed: 1, compressed: true });
    const store = await Store.open(dir, OPEN);
    try {
      const runs: Promise<void>[] = [];
      const integrity = await StoreIntegrity.check(store, {
        source: "vigil",
        onRun: (r) => void runs.push(r),
      });
      try {
        const after = Promise.withResolvers<void>();
        await integrity.start(after.promise);
        await new Promise((r) => setTimeout(r, 100));
        assertEquals([runs.length, integrity.status().state], [0, "checked"]);
        after.resolve();
        // Until the run begins, or (were it not handed over) ends.
        const begun = (): boolean => runs.length > 0 || integrity.status().state !== "checked";
        while (!begun()) await new Promise((r) => setTimeout(r, 0));
        assertEquals([runs.length, integrity.status().state], [1, "verifying"]);
        await runs[0];
        const s = integrity.status();
        assertEquals([s.state, s.lastVerification?.trigger, s.lastVerification?.events], [
          "intact",
          "start",
          size,
        ]);
        // Every later run too; one joined while in progress is not given again.
        const daily = integrity.verify("daily");
        await integrity.verify("daily");
        await daily;
        assertEquals(runs.length, 2);
      } finally {
        await integrity.stop();
      }
    } finally {
      await store.close();
    }
  });
});

Deno.test("StoreIntegrity.check() finds sealed segments deleted, cut short or grown, and signed checkpoints gone", async () => {
  await withTempDir(async (dir) => {
    const packed = `${dir}/packed`;
    const plain = `${dir}/plain`;
    await fillStore(packed, { sealed: 3, compressed: true });
    await fillStore(plain, { sealed: 3, compressed: false });
    const cases: [string, string, (data: string) => Promise<void>, RegExp][] = [
      [
        "middle deleted",
        packed,
        async (d) => {
          await deleteSegment((await sealedSegments(d))[1]!);
        },
        /seg-0+5200\.vsegz offset 0: segment starts at seq 5200, expected 2600 .*2600\.\.5199 are missing/,
      ],
      ["first deleted", packed, async (d) => {
        await deleteSegment((await sealedSegments(d))[0]!);
      }, /starts at seq 2600, expected 0 after the log's start/],
      ["cut short", packed, async (d) => {
        await cutShort((await sealedSegments(d))[1]!);
      }, /seg-0+2600\.vsegz: compressed segment block \d+ is out of place/],
      ["cut inside its table", packed, async (d) => {
        await cutShort((await sealedSegments(d))[0]!, 0.0001);
      }, /seg-0+\.vsegz: compressed segment (is cut short|block table)/],
      ["grown", packed, async (d) => {
        const path = (await sealedSegments(d))[1]!;
        await Deno.chmod(path, 0o644);
        await Deno.writeFile(path, new Uint8Array(7), { append: true });
      }, /seg-0+2600\.vsegz offset \d+: compressed segment is \d+ bytes, its block table accounts/],
      ["uncompressed cut short", plain, async (d) => {
        await cutShort((await sealedSegments(d))[1]!, 0.7);
      }, /seg-0+2600\.vseg offset \d+: sealed segment does not end with its seal record/],
      ["uncompressed deleted", plain, async (d) => {
        await deleteSegment((await sealedSegments(d))[1]!);
      }, /segment starts at seq 5200, expected 2600/],
      ["checkpoints emptied", packed, async (d) => {
        await Deno.writeTextFile(`${d}/checkpoints.jsonl`, "");
      }, /signed checkpoints are gone: .* checkpoint of 7801 events was signed/],
    ];
    for (const [name, from, damage, expected] of cases) {
      const data = `${dir}/${name.replaceAll(" ", "-")}`;
      await copyDir(from, data);
      await damage(data);
      await withChecked(data, (integrity) => {
        const s = integrity.status();
        assertEquals([s.healthy, s.state, s.startCheck.ok], [false, "damaged", false], name);
        assertMatch(s.startCheck.problem ?? "", expected, name);
        assertEquals(s.problem, `${s.startCheck.problem} (found by the start checks)`, name);
        return Promise.resolve();
      });
    }
  });
});

Deno.test("a failed start check is recorded as STORE_DAMAGED before the verification runs", async () => {
  await withTempDir(async (dir) => {
    const size = await fillStore(dir, { sealed: 3, compressed: true });
    await deleteSegment((await sealedSegments(dir))[1]!);
    await withChecked(dir, async (integrity) => {
      await integrity.start();
      await integrity.verify("start");
      const s = integrity.status();
      assertEquals([s.state, s.healthy, s.lastVerification?.ok], ["damaged", false, false]);
      // The first damage found is what the status names.
      assertMatch(s.problem ?? "", /are missing.*\(found by the start checks\)$/);
      const events = await vigilEvents(dir, size);
      assertEquals(events.map((e) => e.command), [STORE_DAMAGED, STORE_DAMAGED]);
      assertEquals(events.map((e) => e.context?.check), ["start", "verification"]);
      assertMatch(events[0]!.error ?? "", /segment starts at seq 5200, expected 2600/);
    });
  });
});

Deno.test("a byte flipped inside a sealed segment passes the start checks and fails the background verification", async () => {
  await withTempDir(async (dir) => {
    const size = await fillStore(dir, { sealed: 3, compressed: true });
    await flipByte((await sealedSegments(dir))[1]!);
    await withChecked(dir, async (integrity) => {
      assertEquals(integrity.status().startCheck.ok, true, "the start checks do not read records");
      await integrity.start();
      await integrity.verify("start");
      const s = integrity.status();
      assertEquals([s.state, s.healthy, s.runs], ["damaged", false, { intact: 0, damaged: 1 }]);
      assertMatch(
        s.problem ?? "",
        /^seg-0+2600\.vsegz.*compressed segment block 0.*\(found by the verification at start\)$/,
      );
      const [ev, ...rest] = await vigilEvents(dir, size);
      assertEquals([ev?.kind, ev?.command, rest.length], ["system", STORE_DAMAGED, 0]);
      assertEquals([ev!.context?.check, ev!.context?.segment], [
        "verification",
        "seg-00000000000000002600.vsegz",
      ]);
      assertMatch(ev!.error ?? "", /compressed segment block 0/);
      // A later run finds the same; the store stays damaged until a restart checks it again.
      await integrity.verify("daily");
      assertEquals([integrity.status().healthy, integrity.status().runs.damaged], [false, 2]);
    });
  });
});

Deno.test("a verification that failed while retention moved the log's start runs again", async () => {
  await withTempDir(async (dir) => {
    const size = await fillStore(dir, { sealed: 1, compressed: true });
    let calls = 0;
    const verify = async (dataDir: string): Promise<VerifyReport> => {
      calls++;
      if (calls > 1) {
        await Deno.remove(`${dataDir}/retained.json`); // the store as the second run finds it
        return await verifyStore(dataDir);
      }
      // As retention does while a run reads: the start moves, then the segments before it go.
      const report = await verifyStore(dataDir);
      const frontier = new MerkleFrontier();
      frontier.append(new Uint8Array(32));
      await writeRetainedStart(dataDir, { fromSeq: 1, chain: new Uint8Array(32), frontier });
      return { ...report, ok: false, problem: { reason: "gone", place: {}, text: "gone" } };
    };
    const store = await Store.open(dir, OPEN);
    const integrity = await StoreIntegrity.check(store, { source: "vigil", verify });
    try {
      await integrity.start();
      await integrity.verify("start");
      assertEquals(calls, 2);
      assertEquals([integrity.status().state, integrity.status().runs.damaged], ["intact", 0]);
      const events = await vigilEvents(dir, size);
      assertEquals(events.map((e) => e.command), [STORE_VERIFIED]);
    } finally {
      await integrity.stop();
      await store.close();
    }
  });
});

Deno.test("audit_tampering reacts to STORE_DAMAGED", () => {
  assert(CORE_GAP_COMMANDS.includes(STORE_DAMAGED));
  assert(!CORE_GAP_COMMANDS.includes(STORE_VERIFIED));
  const ev: AuditEvent = {
    seq: 7,
    ts: 1_767_225_600_000_000,
    ingest_ts: 1_767_225_600_000_000,
    source: "vigil",
    kind: "system",
    command: STORE_DAMAGED,
    error: "seg-00000000000000002600.vsegz offset 0: CRC-32C mismatch",
  };
  const drafts = auditTampering(gapCommands([])).event!(
    ev,
    7,
    {} as EventFacts,
    undefined as never,
  );
  assertEquals(drafts.map((d) => [d.rule, d.severity]), [["audit_tampering", "critical"]]);
  assertMatch(drafts[0]!.reason, /^STORE_DAMAGED: seg-0+2600\.vsegz offset 0: CRC-32C mismatch/);
});
