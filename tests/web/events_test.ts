/** Event search, keyset paging, the event page and its proof, through `app.request()`. */

import { DatabaseSync } from "node:sqlite";
import { unhex } from "../../daemon/store/keys.ts";
import { leafHash, verifyInclusion } from "../../daemon/store/merkle.ts";
import { canonicalJson } from "../../daemon/event/canonical.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld, XSS_STATEMENT } from "./_harness.ts";
import { searchEvents } from "../../web/search.ts";

function seqsOf(html: string): number[] {
  return [...html.matchAll(/<a href="\/events\/(\d+)">/g)].map((m) => Number(m[1]));
}

Deno.test("search filters by role and full text, newest first, and records the search", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const { status, html } = await c.page("/events?role=mallory&text=script");
    assertEquals(status, 200);
    assertEquals(seqsOf(html), [120]);
    assertStringIncludes(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
    assert(!html.includes("<script>alert"), "the statement is never markup");
    const all = seqsOf((await c.page("/events?role=alice&kind=row_change&command=update")).html);
    assert(all.length > 0 && all.every((s) => s % 3 === 0), "alice's row changes only");
    assertEquals(all, [...all].sort((a, b) => b - a), "newest first");
    const search = (await uiEvents(w.dir)).filter((e) => e.command === "SEARCH");
    assertEquals(search[0]!.context, { role: "mallory", text: "script" });
    assertEquals(search[0]!.role, "auditor1");
  });
});

Deno.test("search pages by seq: no event twice, none missed, the same as one big page", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const seen: number[] = [];
    let url: string | null = "/events?source=billing";
    while (url) {
      const html: string = (await c.page(url)).html;
      seen.push(...seqsOf(html));
      const next: RegExpExecArray | null = /<a rel="next" href="([^"]+)"/.exec(html);
      url = next ? next[1]!.replaceAll("&amp;", "&") : null;
    }
    assertEquals(seen.length, 123);
    assertEquals(seen, Array.from({ length: 123 }, (_, i) => 122 - i));
  });
});

Deno.test("search reads events newer than the index from the log", async () => {
  await withWorld({}, async (w) => {
    await w.feed.close();
    await w.store.append({
      source: "billing",
      events: [{ ts: 1_767_300_000_000_000, source: "billing", kind: "auth", role: "zed" }],
    });
    const c = new Client(w.app);
    await c.login("auditor1");
    const seqs = seqsOf((await c.page("/events?role=zed")).html);
    assertEquals(seqs.length, 1);
    assert(seqs[0]! > w.index.lastSeq(), "the event is not in the index");
  });
});

Deno.test("a bad filter is a 400 that names it", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const res = await c.page("/events?from=yesterday");
    assertEquals(res.status, 400);
    assertStringIncludes(res.html, "from:");
  });
});

Deno.test("the event page shows every field, the segment and a proof the server checked", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const { status, html } = await c.page("/events/120");
    assertEquals(status, 200);
    assertStringIncludes(html, "seg-00000000000000000000.vseg");
    assertMatch(html, /<span class="ok">Verified<\/span>/);
    assertStringIncludes(html, "mallory");
    assert(!html.includes(XSS_STATEMENT), "escaped, not raw");
    const bidi = (await c.page("/events/121")).html;
    assertStringIncludes(
      bidi,
      '<span class="ctl" title="hidden or control character">\\u202E</span>',
    );
    assert(!bidi.includes("\u202E"), "the override character itself is not in the page");

    const proof = await (await c.request("/events/120/proof.json")).json();
    assertEquals(proof.seq, 120);
    assert(proof.signature_ok);
    const leaf = leafHash(new TextEncoder().encode(canonicalJson(proof.event)));
    assert(
      verifyInclusion(
        leaf,
        120,
        proof.tree_size,
        proof.inclusion_proof.map(unhex),
        unhex(proof.checkpoint.root),
      ),
      "the proof verifies against the signed root",
    );
    const cmds = (await uiEvents(w.dir)).map((e) => [e.command, e.object]);
    assertEquals(cmds.slice(-3), [
      ["VIEW_EVENT", "event 120"],
      ["VIEW_EVENT", "event 121"],
      ["VIEW_PROOF", "event 120"],
    ]);
    assertEquals((await c.page("/events/999999")).status, 404);
  });
});

Deno.test("an event newer than the latest checkpoint says when it will be provable", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("admin1");
    // The sign-in itself appended an event after the checkpoint.
    const seq = w.store.size - 1;
    const { html } = await c.page(`/events/${seq}`);
    assertStringIncludes(html, "newer than the latest signed checkpoint");
    const res = await c.request(`/events/${seq}/proof.json`);
    assertEquals(res.status, 409);
    await res.body?.cancel();
  });
});

Deno.test("downloading search results is an EXPORT event and gives JSON lines", async () => {
  await withWorld({}, async (w) => {
    const c = new Client(w.app);
    await c.login("auditor1");
    const res = await c.request("/events/export.jsonl?role=mallory");
    assertEquals(res.status, 200);
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((e) => e.seq), [121, 120]);
    const last = (await uiEvents(w.dir)).at(-1)!;
    assertEquals([last.command, last.context], ["EXPORT", { role: "mallory" }]);
  });
});

Deno.test("searchEvents() reads the log only for events the index does not hold yet", async () => {
  await withWorld({}, async (w) => {
    await w.feed.drain();
    const req = { filter: { role: "alice" }, before: undefined, limit: 5 };
    const caughtUp = await searchEvents(w.deps, req);
    assertEquals(caughtUp.scanned, 0);
    const upTo = w.store.size;
    await w.store.append({
      source: "vigil-ui",
      events: [{ ts: 1, source: "vigil-ui", kind: "app" }],
    });
    const own = await searchEvents(w.deps, req, upTo);
    assertEquals(own.scanned, 0, "an event after upTo is not scanned for");
    assertEquals(own.events.map((e) => e.seq), caughtUp.events.map((e) => e.seq));
  });
});

/** Runs SQL on the world's index file as someone with a shell on the box would. */
function editIndex(dir: string, edit: (db: DatabaseSync, columns: Set<string>) => void): void {
  const db = new DatabaseSync(`${dir}/index.sqlite`);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    const columns = new Set(
      db.prepare("PRAGMA table_info(events)").all().map((r) => String(r.name)),
    );
    edit(db, columns);
  } finally {
    db.close();
  }
}

Deno.test("an index row edited or deleted by hand changes nothing the event page, API and search show", async () => {
  await withWorld({}, async (w) => {
    await w.feed.drain();
    const c = new Client(w.app);
    await c.login("auditor1");
    const api = async (query: string): Promise<Record<string, unknown>[]> => {
      const res = await c.request(`/api/v1/events?${query}`);
      assertEquals(res.status, 200);
      return (await res.json()).events;
    };
    const before = await api("role=alice&limit=100");
    const listed = seqsOf((await c.page("/events?role=alice&limit=100")).html);
    assert(listed.includes(3) && listed.includes(6));
    const original = before.find((e) => e.seq === 3)!;
    assertEquals(original.statement, "SELECT balance FROM public.accounts WHERE id = 3");
    await w.feed.drain();
    editIndex(w.dir, (db, columns) => {
      const forged = { ...original, role: "mallory", statement: "SELECT 'nothing happened'" };
      const sets = ["role = ?"], values = ["mallory"];
      if (columns.has("body")) sets.push("body = ?"), values.push("select 'nothing happened'");
      if (columns.has("json")) sets.push("json = ?"), values.push(JSON.stringify(forged));
      db.prepare(`UPDATE events SET ${sets.join(", ")} WHERE seq = 3`).run(...values);
      db.exec("DELETE FROM events WHERE seq = 6");
    });

    const page = (await c.page("/events/3")).html;
    assertStringIncludes(page, "WHERE id = 3");
    assert(!page.includes("nothing happened"), "the event page reads the log");
    assert(!page.includes("mallory"), "the event page reads the log");
    const proof = await (await c.request("/events/3/proof.json")).json();
    assertEquals(proof.event, original);

    assertEquals((await api("role=mallory")).map((e) => e.seq), [121, 120]);
    assertEquals(await api("text=nothing+happened"), []);
    assertEquals(await api("role=alice&limit=100"), before, "edited and deleted rows still found");
    assertEquals(seqsOf((await c.page("/events?role=alice&limit=100")).html), listed);
    const lines = (await (await c.request("/events/export.jsonl?role=alice")).text()).trim()
      .split("\n").map((l) => JSON.parse(l));
    assertEquals(lines, before);
  });
});
