import { AlertStore } from "../../../daemon/detect/alert_store.ts";
import type { Incident } from "../../../daemon/detect/dedup.ts";
import { Deduplicator } from "../../../daemon/detect/dedup.ts";
import type { AlertDraft } from "../../../daemon/detect/alert.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const M = 60e6;

function draft(rule: string, role: string, ts: number, more: Partial<AlertDraft> = {}): AlertDraft {
  return {
    rule,
    role,
    ts_from: ts,
    ts_to: ts,
    severity: "medium",
    score: 1,
    reason: `${rule} at ${ts}`,
    features: [],
    seqs: [ts / M],
    ...more,
  };
}

Deno.test("Deduplicator merges one rule and role within merge_minutes into one incident", () => {
  const d = new Deduplicator(60);
  const a = d.add(draft("off_hours", "bob", 0));
  const b = d.add(draft("off_hours", "bob", 30 * M, { severity: "high", score: 3 }));
  const c = d.add(draft("off_hours", "carol", 40 * M));
  const e = d.add(draft("off_hours", "bob", 200 * M));
  assertEquals([a.created, b.created, c.created, e.created], [true, false, true, true]);
  assertEquals(b.incident, a.incident);
  assertEquals(a.incident.count, 2);
  assertEquals(a.incident.severity, "high");
  assertEquals(a.incident.score, 3);
  assertEquals(a.incident.seqs, [0, 30]);
  assertEquals(a.incident.ts_to, 30 * M);
  assertEquals(a.incident.reason, "off_hours at 0 (2 detections)");
  assertEquals(a.incident.key, "off_hours|bob|0");
});

Deno.test("AlertStore lists with filters, gets by id and keeps acks across updates", async () => {
  await withTempDir((dir) => {
    const store = AlertStore.open(`${dir}/alerts.db`);
    const inc = (d: AlertDraft, key: string): Incident => ({ ...d, key, count: 1 });
    store.batch(() => {
      store.save(inc(draft("bulk_read", "bob", 10 * M, { severity: "critical" }), "k1"));
      store.save(inc(draft("off_hours", "bob", 20 * M), "k2"));
      store.save(inc(draft("off_hours", "carol", 30 * M, { client_addr: "10.0.0.9" }), "k3"));
    });
    assertEquals(store.list().map((a) => a.id), [1, 2, 3]);
    assertEquals(store.list({ role: "bob" }).map((a) => a.key), ["k1", "k2"]);
    assertEquals(store.list({ rule: "off_hours" }).map((a) => a.key), ["k2", "k3"]);
    assertEquals(store.list({ minSeverity: "high" }).map((a) => a.key), ["k1"]);
    assertEquals(store.list({ from: 20 * M, to: 30 * M }).map((a) => a.key), ["k2"]);
    assertEquals(store.list({ limit: 1 }).map((a) => a.key), ["k1"]);
    assertEquals(store.get(3)?.client_addr, "10.0.0.9");
    assertEquals(store.get(4), undefined);
    assertEquals(store.setAck("k2", { by: "ada", note: "ok", ts: 1, seq: 9 }), true);
    assertEquals(store.setAck("nope", { by: "ada", note: "", ts: 1, seq: 9 }), false);
    // An update of the incident (more drafts merged) keeps its id and its ack.
    store.save(inc(draft("off_hours", "bob", 20 * M, { ts_to: 50 * M }), "k2"));
    assertEquals(store.get(2)?.ts_to, 50 * M);
    assertEquals(store.get(2)?.ack?.by, "ada");
    assertEquals(store.list({ acked: true }).map((a) => a.id), [2]);
    assertEquals(store.list({ acked: false }).map((a) => a.id), [1, 3]);
    // batch() commits what was saved before an error.
    assertThrows(() =>
      store.batch(() => {
        store.save(inc(draft("bulk_read", "dan", 60 * M), "k4"));
        throw new Error("boom");
      })
    );
    store.close();
    const again = AlertStore.open(`${dir}/alerts.db`, { readonly: true });
    assertEquals(again.list().map((a) => a.key), ["k1", "k2", "k3", "k4"]);
    again.close();
    return Promise.resolve();
  });
});
