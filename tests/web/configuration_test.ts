/**
 * The configuration view: Management and the evidence pack show each WAL source's latest
 * `PG_CONFIG` reading from the log (an older one of the same source is not shown; a reading
 * after the pack's period is not in the pack), Administration shows pgAudit's scope in force per
 * database and role, and every value that came from a database is shown as text.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { withWorld } from "./_harness.ts";

const T = 1_767_139_200_000_000; // 2025-12-31T00:00:00Z
const HOSTILE = "<script>alert(1)</script>";

function reading(pgauditLog: string, role: string): NewEvent {
  return {
    ts: T,
    source: "wal",
    kind: "system",
    db: "billing",
    command: "PG_CONFIG",
    context: {
      hash: "0123456789abcdef",
      reading: {
        database: "billing",
        settings: { "pgaudit.log": pgauditLog, log_connections: "on", log_destination: "csvlog" },
        scoped: [{ database: null, role, settings: { "pgaudit.log": "none" } }],
        session_replication_role: "origin",
        install: {
          installed: true,
          problems: [],
          event_triggers: { vigil_ddl_command_end: "A", vigil_sql_drop: "R" },
          functions: {},
        },
        publication: {
          name: "vigil_billing",
          exists: true,
          all_tables: true,
          table_count: 3,
          excluded: [],
          excluded_count: 0,
        },
      },
    },
  };
}

Deno.test("Configuration view: the latest reading per source on Management, in the pack and Administration", async () => {
  await withWorld({}, async (w) => {
    await w.store.append({ source: "wal", events: [{ ...reading("all", "old"), ts: T - 10 }] });
    await w.store.append({ source: "wal", events: [reading("read,write,ddl", HOSTILE)] });
    await w.store.append({
      source: "wal",
      events: [{ ...reading("ddl", "later"), ts: T + 86_400_000_000 * 5 }],
    });
    const auditor = new Client(w.app);
    await auditor.login("auditor1");
    const { html } = await auditor.page("/management");
    const section = html.slice(html.indexOf('<div id="configuration">'));
    assertStringIncludes(section, "Configuration in force");
    assertStringIncludes(section, "later", "the newest reading of the source");
    assert(!section.includes(">old<"), "not an older reading of the same source");
    assertStringIncludes(section, "vigil_sql_drop: R");

    // The pack's period ends before the newest reading: the one in force then.
    const q = "from=2025-12-30&to=2026-01-02";
    const pack = await (await auditor.request(`/management/evidence.json?${q}`)).json();
    assertEquals(pack.configuration.length, 1);
    assertEquals(pack.configuration[0].reading.settings["pgaudit.log"], "read,write,ddl");
    const page = await auditor.page(`/management/evidence?${q}`);
    assertStringIncludes(page.html, "Configuration in force");
    assert(!page.html.includes(HOSTILE), "a role name from the database is text, not markup");

    const admin = new Client(w.app);
    await admin.login("admin1");
    const a = await admin.page("/admin");
    const scopes = a.html.slice(a.html.indexOf('<div id="pgaudit-scopes">'));
    assertStringIncludes(scopes, "pgAudit scope in force");
    assertStringIncludes(scopes, "role later");
    assertStringIncludes(scopes, "ddl");
    assert(!a.html.includes(HOSTILE));
  });
});
