import {
  defaultDetectConfig,
  detectConfigFromTable,
  sensitiveMatcher,
} from "../../../daemon/detect/config.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

Deno.test("detectConfigFromTable() maps a [detect] table onto the defaults", () => {
  const cfg = detectConfigFromTable({
    sensitive_objects: ["hr.*"],
    failed_login_burst: 8,
    if_threshold: 0.75,
    disabled: ["off_hours"],
    webhook: { url: "http://127.0.0.1:9000/hook", retries: 2 },
    syslog: { address: "127.0.0.1:514", transport: "tcp", min_severity: "high" },
    smtp: { host: "127.0.0.1", port: 2525, from: "vigil@example.org", to: ["soc@example.org"] },
  });
  const d = defaultDetectConfig();
  assertEquals(cfg.sensitive_objects, ["hr.*"]);
  assertEquals(cfg.failed_login_burst, 8);
  assertEquals(cfg.if_threshold, 0.75);
  assertEquals(cfg.if_trees, 100);
  assertEquals(cfg.if_subsample, 256);
  assertEquals(cfg.window_minutes, d.window_minutes);
  assertEquals(cfg.channels.webhook, {
    url: "http://127.0.0.1:9000/hook",
    retries: 2,
    backoff_ms: 500,
    min_severity: "medium",
  });
  assertEquals(cfg.channels.syslog?.transport, "tcp");
  assertEquals(cfg.channels.smtp?.port, 2525);
  assertEquals(
    detectConfigFromTable({ peer_groups: { dbas: ["alice"] } }).peer_groups,
    { dbas: ["alice"] },
  );
  assertEquals(detectConfigFromTable({}), d);
});

Deno.test("detectConfigFromTable() throws TypeError naming the bad key", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ windw_minutes: 5 }, /windw_minutes: unknown key/],
    [{ failed_login_burst: 0 }, /failed_login_burst: must be an integer ≥ 1/],
    [{ failed_login_burst: "5" }, /failed_login_burst: must be a number/],
    [{ if_threshold: 1.5 }, /if_threshold: must be between 0 and 1/],
    [{ sensitive_objects: "hr.*" }, /sensitive_objects: must be an array of strings/],
    [{ webhook: { url: "ftp://x" } }, /webhook.url: must be an http\(s\) URL/],
    [{ webhook: { url: "http://x", retry: 1 } }, /webhook.retry: unknown key/],
    [{ syslog: { address: "127.0.0.1:514", transport: "sctp" } }, /syslog.transport/],
    [{ smtp: { host: "h", from: "a@b", to: [] } }, /smtp.to: must be a non-empty array/],
    [{ smtp: "h" }, /smtp: must be a table/],
    [{ peer_groups: { a: "bob" } }, /peer_groups.a: must be an array of role names/],
    [{ peer_groups: { a: ["bob"], b: ["bob"] } }, /peer_groups.b: role "bob" is also in a/],
    [{ webhook: { url: "http://x", min_severity: "urgent" } }, /webhook.min_severity/],
  ];
  for (const [table, re] of cases) {
    assertThrows(() => detectConfigFromTable(table), { instanceOf: TypeError, message: re });
  }
});

Deno.test("sensitiveMatcher() matches exact names and * wildcards, ignoring case", () => {
  const m = sensitiveMatcher(["hr.*", "public.cards"]);
  assert(m("hr.salaries") && m("HR.Salaries") && m("public.cards"));
  assert(!m("public.cards_old") && !m("xhr.salaries") && !m("public.orders"));
  assert(!sensitiveMatcher([])("hr.salaries"));
  assert(sensitiveMatcher(["a.b+c"])("a.b+c") && !sensitiveMatcher(["a.b+c"])("a.bbc"));
});
