/**
 * A real `vigil serve` re-checks its search index against the log while it runs
 * (`[store] index_recheck`): rows edited and deleted by hand, with the tally put right so that
 * the per-search check vouches for them, are found at the next re-check, recorded as
 * INDEX_DAMAGED (naming the seqs), rebuilt from the log (INDEX_REBUILT) and raise
 * `audit_tampering`. Rows edited plainly while it was stopped are found at its start and go the
 * same way.
 */

import { DatabaseSync } from "node:sqlite";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import { recheckIndex } from "../../../daemon/index/recheck.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";
import { Served } from "./_served.ts";

const EVENTS = 5000;

/** The daemon's index events in the chain. */
async function indexEvents(data: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(data, { fromSeq: EVENTS })) {
    if (r.event.source === "vigil" && r.event.command?.startsWith("INDEX_")) out.push(r.event);
  }
  return out;
}

/** Waits until the index holds every ingested event. */
async function indexed(data: string): Promise<void> {
  await assertEventually(() => {
    try {
      const index = EventIndex.open(indexPath(data), { readonly: true });
      try {
        return index.lastSeq() >= EVENTS - 1;
      } finally {
        index.close();
      }
    } catch {
      return false;
    }
  }, { timeoutMs: 60_000, message: "the index caught up" });
}

function withIndexDb(data: string, fn: (db: DatabaseSync) => void): void {
  const db = new DatabaseSync(indexPath(data));
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    fn(db);
  } finally {
    db.close();
  }
}

Deno.test("serve re-checks its index against the log, records damage and rebuilds it", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const ingest = await runVigil(["ingest", "--data", data, "--source", "test"], {
      stdin: Array.from({ length: EVENTS }, (_, i) => JSON.stringify(testEvent(i)) + "\n").join(""),
    });
    assertEquals(ingest.code, 0, ingest.stderr);

    const first = await Served.start(dir, data, ['index_recheck = "1s"']);
    try {
      await indexed(data);
      withIndexDb(data, (db) => {
        // seq 100 (bob's) made carol's, seq 4000 deleted; the tally is put right by hand.
        // One transaction, so that a re-check running meanwhile sees all of it or none.
        db.exec("BEGIN IMMEDIATE");
        const carol = Number(db.prepare("SELECT id FROM names WHERE value = 'carol'").get()!.id);
        db.prepare("UPDATE events SET role = ? WHERE seq = 100").run(carol);
        db.exec("DELETE FROM events WHERE seq = 4000");
        db.exec("UPDATE tally SET edits = 0, rows = rows + 1 WHERE block = 0");
        db.exec("COMMIT");
      });
      await assertEventually(async () => {
        const commands = (await indexEvents(data)).map((e) => e.command);
        return commands.includes("INDEX_REBUILT");
      }, { timeoutMs: 60_000, message: "INDEX_DAMAGED and INDEX_REBUILT" }).catch((e) => {
        throw new Error(`${e.message}\n${first.log}`);
      });
      const [damaged, rebuilt] = await indexEvents(data);
      assertEquals([damaged!.command, damaged!.context?.check], ["INDEX_DAMAGED", "periodic"]);
      assertEquals(damaged!.context?.seq_ranges, [[100, 101], [4000, 4001]]);
      assertMatch(damaged!.error ?? "", /seqs 100–100, 4000–4000 differ from the log \(2 seqs\)/);
      assertEquals([rebuilt!.command, rebuilt!.context?.check], ["INDEX_REBUILT", "periodic"]);
      // The rebuilt index agrees with the log again.
      const again = await recheckIndex(data, { upTo: EVENTS });
      assertEquals([again.differing, again.checked], [0, EVENTS]);
      assertEquals((await first.health())[0], 200);
      await first.stop();
    } finally {
      await first.kill();
    }

    // Edited plainly while stopped: the start's tally check finds it.
    withIndexDb(data, (db) => db.exec("UPDATE events SET ts = ts + 1 WHERE seq = 7"));
    const second = await Served.start(dir, data, ['index_recheck = "0s"']);
    try {
      await assertEventually(async () => (await indexEvents(data)).length >= 4, {
        timeoutMs: 60_000,
        message: "the start's INDEX_DAMAGED and INDEX_REBUILT",
      });
      await second.stop();
    } finally {
      await second.kill();
    }
    const [, , atStart, rebuiltAtStart] = await indexEvents(data);
    assertEquals([atStart!.command, atStart!.context?.check], ["INDEX_DAMAGED", "start"]);
    // The tally names whole blocks of 16,384 seqs: the first, up to the log's end at start.
    const [from, to] = (atStart!.context?.seq_ranges as [number, number][])[0]!;
    assert(from === 0 && to > 7, JSON.stringify(atStart!.context));
    assertEquals(rebuiltAtStart!.command, "INDEX_REBUILT");
    assertEquals((await recheckIndex(data, { upTo: EVENTS })).differing, 0);

    const alerts = await runVigil(["alerts", "--data", data]);
    assertEquals(alerts.code, 0, alerts.stderr);
    const tamper = alerts.stdout.trim().split("\n").filter((l) => l !== "").map((l) =>
      JSON.parse(l)
    )
      .filter((a) => a.rule === "audit_tampering");
    assert(tamper.some((a) => /^INDEX_DAMAGED: /.test(a.reason)), alerts.stdout);
  });
});
