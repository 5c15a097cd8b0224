/** The `[[sources]]` table of a pgAudit source: defaults, and errors that name the key. */

import { SOURCE_PLUGINS, sourcePlugin } from "../../../plugins/mod.ts";
import { pgauditConfigFromTable } from "../../../plugins/pgaudit/mod.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const BASE = { name: "billing-log", type: "pgaudit", path: "/var/log/pg/*.csv", format: "csvlog" };

Deno.test("pgauditConfigFromTable() fills in the defaults", () => {
  const s = pgauditConfigFromTable(BASE);
  assertEquals(s, {
    path: "/var/log/pg/*.csv",
    format: "csvlog",
    logLinePrefix: undefined,
    verbose: false,
    timezone: "UTC",
    currentLogfiles: undefined,
    pollIntervalMs: 250,
    rotationGraceMs: 5000,
    batchMaxEvents: 2000,
    maxRecordBytes: 16 * 1024 * 1024,
    redact: [],
    redactDefaults: true,
  });
});

Deno.test("pgauditConfigFromTable() takes every key", () => {
  const s = pgauditConfigFromTable({
    ...BASE,
    format: "stderr",
    log_line_prefix: "%m [%p] %q%u@%d ",
    log_error_verbosity: "verbose",
    timezone: "Europe/Berlin",
    current_logfiles: false,
    poll_interval_ms: 100,
    rotation_grace_ms: 0,
    batch_max_events: 10,
    max_record_bytes: 8192,
    redact: ["token=(?<secret>\\S+)"],
    redact_defaults: false,
  });
  assertEquals([s.verbose, s.currentLogfiles, s.redactDefaults], [true, false, false]);
});

Deno.test("pgauditConfigFromTable() names the bad key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...BASE, path: undefined }, '"path"'],
    [{ ...BASE, path: "/var/*/x.csv" }, '"path"'],
    [{ ...BASE, format: "syslog" }, '"format"'],
    [{ ...BASE, format: "stderr" }, '"log_line_prefix"'],
    [{ ...BASE, log_line_prefix: "%m " }, '"log_line_prefix"'],
    [{ ...BASE, log_error_verbosity: "loud" }, '"log_error_verbosity"'],
    [{ ...BASE, timezone: "Mars/Olympus" }, '"timezone"'],
    [{ ...BASE, current_logfiles: 1 }, '"current_logfiles"'],
    [{ ...BASE, poll_interval_ms: 0 }, '"poll_interval_ms"'],
    [{ ...BASE, batch_max_events: 1.5 }, '"batch_max_events"'],
    [{ ...BASE, redact: "password" }, '"redact"'],
    [{ ...BASE, redact: ["(bad"] }, "redact[0]"],
    [{ ...BASE, redact_defaults: "no" }, '"redact_defaults"'],
    [{ ...BASE, pth: "/x/*.csv" }, '"pth"'],
    [{ ...BASE, type: "wal" }, '"type"'],
  ];
  for (const [table, key] of cases) {
    assertThrows(() => pgauditConfigFromTable(table), { instanceOf: TypeError, message: key });
  }
});

Deno.test("the plugin registry knows type pgaudit", () => {
  assertEquals(sourcePlugin("pgaudit").type, "pgaudit");
  assertEquals(SOURCE_PLUGINS.map((p) => p.type).includes("pgaudit"), true);
  assertThrows(() => sourcePlugin("pgaudit").validate({ ...BASE, format: "xml" }), TypeError);
});
