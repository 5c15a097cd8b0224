/**
 * judgeChanges(): each change between two configuration readings judged by what it removes —
 * classes per scope against the global value they override, connection logging, destinations,
 * pgAudit unloaded, the replica role, the publication leaving tables out — and shape-only
 * options never a reduction.
 */

import { judgeChanges } from "../../../plugins/wal/config_judge.ts";
import type { ConfigReading } from "../../../plugins/wal/config_read.ts";
import { assertEquals } from "../../support/assert.ts";

function reading(over: Partial<ConfigReading> = {}): ConfigReading {
  return {
    database: "billing",
    settings: {
      "pgaudit.log": "all",
      "pgaudit.log_catalog": "on",
      log_connections: "on",
      log_destination: "stderr,csvlog",
      shared_preload_libraries: "pgaudit",
    },
    scoped: [],
    session_replication_role: "origin",
    install: { installed: true, problems: [], event_triggers: { t: "A" }, functions: {} },
    publication: {
      name: "p",
      exists: true,
      all_tables: false,
      table_count: 2,
      excluded: [],
      excluded_count: 0,
    },
    ...over,
  };
}

const row = (c: { item: string; effect: string; critical: boolean }) =>
  `${c.item} ${c.effect}${c.critical ? " critical" : ""}`;

Deno.test("judgeChanges() judges each change by what it removes", () => {
  const before = reading();
  assertEquals(judgeChanges(before, reading()), []);
  const after = reading({
    settings: {
      "pgaudit.log": "all, -read",
      "pgaudit.log_catalog": "off",
      log_connections: "off",
      log_destination: "stderr",
      shared_preload_libraries: "",
    },
    scoped: [
      { database: "shop", role: null, settings: { "pgaudit.log": "read,write,ddl" } },
      { database: null, role: "etl", settings: { "pgaudit.log": "all, -write" } },
    ],
    session_replication_role: "replica",
    install: { installed: true, problems: ["x"], event_triggers: { t: "R" }, functions: {} },
    publication: {
      name: "p",
      exists: true,
      all_tables: false,
      table_count: 1,
      excluded: ["public.accounts"],
      excluded_count: 1,
    },
  });
  assertEquals(judgeChanges(before, after).map(row), [
    "log_connections reduced",
    "log_destination reduced",
    "pgaudit.log reduced",
    "pgaudit.log_catalog shape",
    "shared_preload_libraries reduced critical",
    // A scope's own value is judged against the global one it overrides.
    "database shop: pgaudit.log reduced critical",
    "role etl: pgaudit.log reduced critical",
    "Vigil session: session_replication_role reduced critical",
    "vigil pg-install other",
    "event trigger t other",
    "publication p: tables left out reduced",
  ]);
  // Back again: nothing removed.
  assertEquals(judgeChanges(after, before).filter((c) => c.effect === "reduced").map(row), []);
  // The publication gone.
  const gone = reading({ publication: { ...before.publication, exists: false } });
  assertEquals(judgeChanges(before, gone).map(row), ["publication p reduced critical"]);
});
