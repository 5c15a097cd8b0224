/**
 * `vigil bench pgaudit` on a small log: it runs end to end, every generated row becomes one
 * stored event, and it prints lines of the bench format. Numbers are not checked: this machine's
 * speed is not the test's business.
 */

import { benchPgaudit } from "../../../plugins/pgaudit/bench.ts";
import { benchRow } from "../../../plugins/pgaudit/bench_log.ts";
import { createLogDecoder } from "../../../plugins/pgaudit/decoder.ts";
import { logEvent } from "../../../plugins/pgaudit/events.ts";
import type { LogRecord } from "../../../plugins/pgaudit/record.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("benchRow() writes rows the csvlog decoder reads back, each one an event", () => {
  const text = Array.from({ length: 300 }, (_, i) => benchRow(i, Date.UTC(2026, 0, 1))).join("");
  const records: LogRecord[] = [];
  const d = createLogDecoder({ format: "csvlog", file: "bench", startOffset: 0, startLine: 1 });
  d.push(new TextEncoder().encode(text), (r) => records.push(r));
  d.end((r) => records.push(r));
  assertEquals(records.length, 300);
  assertEquals(records.filter((r) => r.problem !== undefined).length, 0);
  const kinds = new Set(records.map((r) => logEvent(r, { source: "b" })?.event.kind));
  assertEquals([...kinds].sort(), ["auth", "object", "session"]);
});

Deno.test("benchPgaudit() stores every row of its log and reports in the bench format", async () => {
  await withTempDir(async (dir) => {
    const lines = await benchPgaudit({ bytes: 2_000_000, dir });
    assertEquals(lines.map((l) => l.bench), [
      "pgaudit.intake",
      "pgaudit.intake.events",
      "pgaudit.intake.lines",
    ]);
    const events = lines[1]!;
    const rows = lines[2]!.records as number;
    assert(rows > 5000, `a 2 MB log has thousands of rows (${rows})`);
    assertEquals(events.events, rows, "one stored event per row");
    for (const l of lines.slice(0, 2)) {
      assert(l.value > 0 && l.reference!.value > 0 && l.ratio! > 0, JSON.stringify(l));
    }
  });
});
