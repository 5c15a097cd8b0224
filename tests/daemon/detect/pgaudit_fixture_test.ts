/**
 * Detection over real pgAudit output: the recorded csvlog fixture of a PostgreSQL 15 + pgAudit
 * workload, decoded and mapped by the pgAudit source's own parser, then fed to the engine.
 */

import { CsvLogDecoder, csvLogRecord, type CsvRecord } from "../../../plugins/pgaudit/csvlog.ts";
import { logEvent } from "../../../plugins/pgaudit/events.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals } from "../../support/assert.ts";

async function fixtureEvents(): Promise<AuditEvent[]> {
  const bytes = await Deno.readFile(
    new URL("../../testdata/pgaudit/postgresql.csv", import.meta.url),
  );
  const records: CsvRecord[] = [];
  const d = new CsvLogDecoder();
  d.push(bytes, (r) => records.push(r));
  d.end((r) => records.push(r));
  const out: AuditEvent[] = [];
  for (const r of records) {
    const e = logEvent(csvLogRecord(r), { source: "pg", clock: () => 0 });
    if (e !== undefined) out.push({ ...e.event, seq: out.length, ingest_ts: 0 } as AuditEvent);
  }
  return out;
}

Deno.test("DetectEngine reads real pgAudit events: failed logins and a lowered pgaudit.log", async () => {
  const events = await fixtureEvents();
  const failed = events.filter((e) => e.kind === "auth" && e.sqlstate === "28P01");
  assertEquals(failed.length, 2);
  const engine = new DetectEngine({ ...defaultDetectConfig(), failed_login_burst: 2 });
  engine.feed(events.map((event) => ({ seq: event.seq, event })));
  engine.flush();
  const alerts = engine.list();
  const tamper = alerts.filter((a) => a.rule === "audit_tampering");
  assert(tamper.length >= 1, JSON.stringify(alerts.map((a) => a.reason)));
  assert(tamper.some((a) => a.reason.includes("pgaudit.log")), tamper[0]!.reason);
  const burst = alerts.filter((a) => a.rule === "failed_login_burst");
  // Both failures came from one client address within the window: one burst of two.
  assertEquals(burst.length, 1);
  assertEquals(burst[0]!.seqs, failed.map((e) => e.seq));
  engine.alerts.close();
});
