import { settingFromMessage, settingFromStatement } from "../../../plugins/pgaudit/settings.ts";
import { assertEquals } from "../../support/assert.ts";

Deno.test("settingFromStatement() finds changes to the settings that decide auditing", () => {
  const cases: [string, unknown][] = [
    ["ALTER SYSTEM SET pgaudit.log = 'none'", {
      setting: "pgaudit.log",
      value: "none",
      reduced: true,
    }],
    ["alter system set pgaudit.log to 'read, write'", {
      setting: "pgaudit.log",
      value: "read, write",
      reduced: false,
    }],
    ["ALTER SYSTEM SET pgaudit.log = 'all, -misc'", {
      setting: "pgaudit.log",
      value: "all, -misc",
      reduced: true,
    }],
    ["/* c */ SET LOCAL pgaudit.log = ''", { setting: "pgaudit.log", value: "", reduced: true }],
    ["RESET pgaudit.log", { setting: "pgaudit.log", reduced: true }],
    ["ALTER ROLE bob IN DATABASE shop SET pgaudit.log = none", {
      setting: "pgaudit.log",
      value: "none",
      reduced: true,
    }],
    ["ALTER DATABASE shop SET pgaudit.log TO DEFAULT", { setting: "pgaudit.log", reduced: true }],
    ["SET pgaudit.role = 'auditor'", { setting: "pgaudit.role", value: "auditor", reduced: false }],
    ["ALTER SYSTEM SET log_connections = off", {
      setting: "log_connections",
      value: "off",
      reduced: true,
    }],
    ["ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", {
      setting: "shared_preload_libraries",
      value: "pg_stat_statements",
      reduced: true,
    }],
    ["ALTER SYSTEM RESET ALL", { setting: "all", reduced: true }],
    ["DROP EXTENSION IF EXISTS pgaudit CASCADE", { setting: "extension pgaudit", reduced: true }],
    ["SELECT set_config('pgaudit.log', 'none', false)", {
      setting: "pgaudit.log",
      value: "none",
      reduced: true,
    }],
    // Shape-only options that guides recommend: recorded, never "reduced".
    ["ALTER SYSTEM SET pgaudit.log_catalog = off", {
      setting: "pgaudit.log_catalog",
      value: "off",
      reduced: false,
    }],
    ["ALTER SYSTEM SET pgaudit.log_statement_once = on", {
      setting: "pgaudit.log_statement_once",
      value: "on",
      reduced: false,
    }],
    ["SET pgaudit.log_parameter TO off", {
      setting: "pgaudit.log_parameter",
      value: "off",
      reduced: false,
    }],
    ["ALTER SYSTEM RESET pgaudit.log_relation", {
      setting: "pgaudit.log_relation",
      reduced: false,
    }],
    // Skips every trigger that is not ENABLE ALWAYS.
    ["SET session_replication_role = replica", {
      setting: "session_replication_role",
      value: "replica",
      reduced: true,
    }],
    ["set session_replication_role to 'replica'", {
      setting: "session_replication_role",
      value: "replica",
      reduced: true,
    }],
    ["SET session_replication_role = origin", {
      setting: "session_replication_role",
      value: "origin",
      reduced: false,
    }],
    ["RESET session_replication_role", { setting: "session_replication_role", reduced: false }],
    ["SET work_mem = '64MB'", undefined],
    ["UPDATE t SET log_connections = 0", undefined],
    ["SELECT 'pgaudit.log = none'", undefined],
  ];
  for (const [statement, want] of cases) {
    assertEquals(settingFromStatement(statement), want, statement);
  }
});

Deno.test("settingFromMessage() reads what a reload applied", () => {
  assertEquals(settingFromMessage('parameter "pgaudit.log" changed to "none"'), {
    setting: "pgaudit.log",
    value: "none",
    reduced: true,
  });
  assertEquals(settingFromMessage('parameter "work_mem" changed to "8MB"'), {
    setting: "work_mem",
    value: "8MB",
    reduced: false,
  });
  assertEquals(
    settingFromMessage(
      'parameter "log_disconnections" removed from configuration file, reset to default',
    ),
    { setting: "log_disconnections", reduced: true },
  );
  assertEquals(settingFromMessage("received SIGHUP, reloading configuration files"), undefined);
});
