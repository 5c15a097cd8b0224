/**
 * The event page's attribution: a row change shows the statement that made it (session, client,
 * application, statement, and the parameters of its pgAudit line), the statement's page lists
 * its row changes, and every piece of that database text is shown as text.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { withWorld, XSS_STATEMENT } from "./_harness.ts";

const T = 1_800_000_000_000_000; // 2027-01-15T08:00:00Z

/** One UPDATE of two rows, through both channels: its pgAudit line, its rows, its message. */
function linked(): NewEvent[] {
  const wal = { source: "billing-wal", db: "shop", xid: 9001 };
  return [
    {
      ts: T,
      source: "billing-log",
      kind: "session",
      db: "shop",
      audit_type: "SESSION",
      class: "WRITE",
      command: "UPDATE",
      session_id: "6b15383d.990",
      role: "mallory",
      statement: XSS_STATEMENT,
      params: ["<b>7</b>", null],
      rows: 2,
    },
    ...[1, 2].map((id): NewEvent => ({
      ...wal,
      ts: T + 500,
      kind: "row_change",
      command: "UPDATE",
      object: "public.accounts",
      new_row: { id: String(id) },
    })),
    {
      ...wal,
      ts: T + 500,
      kind: "message",
      command: "STATEMENT",
      object: "public.accounts",
      role: "mallory",
      client_addr: "10.9.8.7",
      application_name: "<i>app</i>",
      session_id: "6b15383d.990",
      statement: XSS_STATEMENT,
      context: { op: "UPDATE", vxid: "3/11", stmt_ts: "2027-01-15T08:00:00.000000Z" },
    },
  ];
}

Deno.test("a row change's page shows its statement and parameters; the statement's page its rows; all as text", async () => {
  await withWorld({}, async (w) => {
    const { firstSeq } = await w.store.append({ source: "billing", events: linked() });
    await w.feed.drain();
    const [line, row1, row2, stmt] = [0, 1, 2, 3].map((i) => firstSeq + i);
    const c = new Client(w.app);
    await c.login("auditor1");
    const { status, html } = await c.page(`/events/${row1}`);
    assertEquals(status, 200);
    const part = html.slice(html.indexOf('id="attribution"'));
    assert(part.length < html.length, "no attribution section");
    assertStringIncludes(part, `<a href="/events/${stmt}">`);
    assertStringIncludes(part, `<a href="/events/${line}">`);
    assertStringIncludes(part, "10.9.8.7");
    assertStringIncludes(part, "6b15383d.990");
    assertStringIncludes(part, "&lt;i&gt;app&lt;/i&gt;");
    assertStringIncludes(part, "&lt;script&gt;alert(1)&lt;/script&gt;");
    assertStringIncludes(part, "&lt;b&gt;7&lt;/b&gt;");
    assert(!html.includes("<script>alert") && !html.includes("<b>7</b>"), "never markup");

    const s = (await c.page(`/events/${stmt}`)).html;
    const rows = s.slice(s.indexOf('id="statement-rows"'));
    assertStringIncludes(rows, `<a href="/events/${row1}">`);
    assertStringIncludes(rows, `<a href="/events/${row2}">`);
  });
});
