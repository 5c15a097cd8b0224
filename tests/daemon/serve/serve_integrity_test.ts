/**
 * `vigil serve` never runs healthy on a damaged store. A store of several compressed sealed
 * segments is served once (as an appliance that has been running: detection has a snapshot),
 * stopped, and copied; each copy is damaged as a disk or a person would — a byte flipped inside
 * a sealed segment, a sealed segment cut short, one deleted — and served again by a real
 * process. Each turns `/healthz` to 503 (the start checks, or the background verification for
 * the flipped byte), is recorded in the chain as STORE_DAMAGED and raises `audit_tampering`,
 * while the daemon keeps serving. The intact copy stays 200 and records STORE_VERIFIED.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { snapshotPath } from "../../../daemon/detect/snapshot.ts";
import { readCheckpoints } from "../../../daemon/store/checkpoint.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { copyDir, withTempDir } from "../../support/store.ts";
import { cutShort, deleteSegment, fillStore, flipByte, sealedSegments } from "./_damaged_store.ts";
import { type Health, Served } from "./_served.ts";

/** The daemon's system events from seq `from` on (read past any damage before it). */
async function vigilEvents(data: string, from: number): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(data, { fromSeq: from })) {
    if (r.event.source === "vigil" && r.event.kind === "system") out.push(r.event);
  }
  return out;
}

/** The `audit_tampering` alerts of a data directory. */
async function tamperAlerts(data: string): Promise<{ reason: string; severity: string }[]> {
  const r = await runVigil(["alerts", "--data", data]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
    .filter((a) => a.rule === "audit_tampering");
}

/** The size of the log after the fixture's run: the final checkpoint covers all of it. */
async function logSize(data: string): Promise<number> {
  return (await readCheckpoints(`${data}/checkpoints.jsonl`)).checkpoints.at(-1)!.size;
}

Deno.test("vigil serve never runs healthy on a damaged store", async (t) => {
  await withTempDir(async (dir) => {
    const fixture = `${dir}/fixture`;
    await fillStore(fixture, { sealed: 4, compressed: true });
    // Served once: detection's state is then snapshotted past the segments damaged below.
    const first = await Served.start(dir, fixture);
    try {
      await first.until((_, h) => h.detection?.state === "running", "detection caught up");
    } finally {
      await first.stop().finally(() => first.kill());
    }
    const size = await logSize(fixture);

    /** Serves a damaged copy: 503, STORE_DAMAGED in the chain, audit_tampering raised. */
    const damaged = async (
      name: string,
      damage: (segments: string[]) => Promise<void>,
      expected: { check: string; problem: RegExp; noSnapshot?: boolean },
    ): Promise<Health> => {
      const data = `${dir}/${name}`;
      await copyDir(fixture, data);
      await damage(await sealedSegments(data));
      // Detection then rebuilds its state from seq 0, through the damage.
      if (expected.noSnapshot) await Deno.remove(snapshotPath(data));
      const served = await Served.start(dir, data);
      let last: Health;
      try {
        const h = await served.until(
          (code, h) => code === 503 && h.store.integrity?.state === "damaged",
          "healthz says the store is damaged",
        );
        assertEquals([h.status, h.store.healthy], ["degraded", false]);
        assertMatch(h.store.integrity!.problem ?? "", expected.problem);
        await assertEventually(async () => (await tamperAlerts(data)).length > 0, {
          timeoutMs: 60_000,
          message: "audit_tampering raised",
        }).catch((e) => {
          throw new Error(`${e.message}\n${served.log}`);
        });
        // Collection goes on: the daemon still serves and stays unhealthy.
        const [code, now] = await served.health();
        assertEquals(code, 503);
        last = now;
        await served.stop();
      } finally {
        await served.kill();
      }
      const events = (await vigilEvents(data, size)).filter((e) => e.command === "STORE_DAMAGED");
      assert(events.length >= 1, "STORE_DAMAGED is in the chain");
      assertEquals(events[0]!.context?.check, expected.check);
      assertMatch(events[0]!.error ?? "", expected.problem);
      const [alert] = await tamperAlerts(data);
      assertEquals(alert!.severity, "critical");
      assertMatch(alert!.reason, /^STORE_DAMAGED: /);
      return last;
    };

    await t.step("an intact store stays healthy and its verification is recorded", async () => {
      const data = `${dir}/intact`;
      await copyDir(fixture, data);
      const served = await Served.start(dir, data);
      try {
        const h = await served.until(
          (_, h) => h.store.integrity?.last_verification != null,
          "the verification at start finishes",
        );
        assertEquals(h.store.integrity?.state, "intact");
        assertEquals((await served.health())[0], 200);
        await served.stop();
      } finally {
        await served.kill();
      }
      const commands = (await vigilEvents(data, size)).map((e) => e.command);
      assertEquals(commands, ["DAEMON_START", "STORE_VERIFIED", "DAEMON_STOP"]);
      assertEquals(await tamperAlerts(data), []);
    });

    await t.step("a byte flipped in a sealed segment: the background verification", async () => {
      await damaged("flipped", (s) => flipByte(s[1]!), {
        check: "verification",
        problem: /seg-0+2600\.vsegz.*compressed segment block 0/,
      });
    });

    await t.step("a flipped byte, detection rebuilding from scratch reads past it", async () => {
      const h = await damaged("flipped-fresh", (s) => flipByte(s[1]!), {
        check: "verification",
        problem: /seg-0+2600\.vsegz.*compressed segment block 0/,
        noSnapshot: true,
      });
      // Detection goes on after the damaged segment, and says which seqs it could not read.
      assertEquals(h.detection?.state, "running");
      assert(
        h.detection!.errors.some((e) =>
          /^seqs 2600–5199 of the log could not be read: seg-0+2600\.vsegz/.test(e)
        ),
        JSON.stringify(h.detection),
      );
    });

    await t.step("a sealed segment cut short: the start checks", async () => {
      await damaged("cut", (s) => cutShort(s[1]!), {
        check: "start",
        problem: /seg-0+2600\.vsegz: compressed segment block \d+ is out of place/,
      });
    });

    await t.step("a sealed segment deleted: the start checks", async () => {
      await damaged("deleted", (s) => deleteSegment(s[1]!), {
        check: "start",
        problem: /segment starts at seq 5200, expected 2600 .*are missing/,
      });
    });
  });
});
