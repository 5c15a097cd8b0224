/**
 * Enforce mode with a spool, as `vigil serve` runs it: a result is released once its event is
 * synced to the source's spool, so a slow store does not hold clients up, and the store gets
 * every event once; a store that refuses ends the run and the next run hands over what the
 * spool kept; a spool the store has fallen too far behind refuses statements — the client
 * gets a FATAL error, never an unaudited result.
 */

import { parseNotice } from "../../../daemon/pgwire/errors.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { query, RawClient, types } from "./_client.ts";
import { MemoryStore, psql, startProxy } from "./_harness.ts";

/** A store whose sources get a spool in `dir`, as under `serve`. */
function spooledStore(dir: string): MemoryStore {
  const store = new MemoryStore();
  store.spoolDir = `${dir}/spool`;
  return store;
}

Deno.test("enforce mode with a spool: results flow while the store is slow, and it gets each event once", async () => {
  await using pg = await startPostgres();
  await withTempDir(async (dir) => {
    const store = spooledStore(dir);
    await using proxy = await startProxy(pg, { mode: "enforce" }, store);
    store.paused = true;
    const out = await psql(proxy.port, ["-c", "SELECT 'a'", "-c", "SELECT 'b'"]);
    assertEquals(out.stdout, "a\nb\n");
    // The client had its results, and the store has nothing yet: they were durable in the spool.
    assertEquals(store.of("SELECT").length, 0);
    store.paused = false;
    await assertEventually(() => store.of("DISCONNECT").length === 1);
    await proxy.stop();
    assertEquals(store.of("SELECT").map((e) => e.statement), ["SELECT 'a'", "SELECT 'b'"]);
    assertMatch(store.position ?? "", /^spool:\d+:\d+$/);
  });
});

Deno.test("enforce mode with a spool: a refusing store ends the run; the next run stores what the spool kept, once", async () => {
  await using pg = await startPostgres();
  await withTempDir(async (dir) => {
    const store = spooledStore(dir);
    const first = await startProxy(pg, { mode: "enforce" }, store);
    const ok = await psql(first.port, ["-c", "SELECT 'before'"]);
    assertEquals(ok.stdout, "before\n");
    await assertEventually(() => store.of("DISCONNECT").length === 1);
    store.paused = true;
    const c = await RawClient.login(first.port);
    await c.send(query("SELECT 'kept-by-the-spool'"));
    // Its result came: the event is durable in the spool, not yet in the store.
    const got = [];
    for (;;) {
      const m = await c.next();
      if (m === null) throw new Error("the proxy closed the session");
      got.push({ type: m.type, payload: m.payload.slice() });
      if (m.type === "Z".charCodeAt(0)) break;
    }
    assertEquals(types(got), "TDCZ");
    store.failing = true;
    store.paused = false;
    const stopped = await first.stop().then(() => undefined, (e: Error) => e);
    assertMatch(String(stopped), /its spool failed, .*disk full \(test\)/);
    c.close();
    assert(!store.events.some((e) => e.statement === "SELECT 'kept-by-the-spool'"));
    // The next run, from the store's position, hands over what the spool still holds.
    store.failing = false;
    const second = await startProxy(pg, { mode: "enforce" }, store);
    await psql(second.port, ["-c", "SELECT 'after'"]);
    await assertEventually(() => store.of("DISCONNECT").length >= 3);
    await second.stop();
    const statements = store.events.map((e) => e.statement).filter((s) => s?.startsWith("SELECT"));
    assertEquals(statements, ["SELECT 'before'", "SELECT 'kept-by-the-spool'", "SELECT 'after'"]);
  });
});

Deno.test("enforce mode with a spool: past spool_bytes the client gets a FATAL error, never the result", async () => {
  await using pg = await startPostgres();
  await withTempDir(async (dir) => {
    const store = spooledStore(dir);
    await using proxy = await startProxy(pg, { mode: "enforce", spool_bytes: 65_536 }, store);
    store.paused = true;
    const c = await RawClient.login(proxy.port);
    const big = "x".repeat(40_000);
    const out = [];
    try {
      for (const tag of ["first", "second"]) {
        await c.send(query(`SELECT '${tag}-${big}'`));
        for (;;) {
          const m = await c.next().catch(() => null);
          if (m === null) break;
          out.push({ type: m.type, payload: m.payload.slice() });
          if (m.type === "Z".charCodeAt(0) || m.type === "E".charCodeAt(0)) break;
        }
      }
    } finally {
      c.close();
    }
    // The first fitted; the second would pass the bound, and its result was withheld.
    assertEquals(types(out), "TDCZE");
    const error = parseNotice(out.at(-1)!.payload);
    assertEquals([error.severity, error.code], ["FATAL", "58000"]);
    assertMatch(error.detail ?? "", /spool .* holds \d+ bytes/);
    assert(!out.some((m) => new TextDecoder().decode(m.payload).includes("second-")));
    store.paused = false;
    await assertEventually(() => store.of("DISCONNECT").length === 1);
    await proxy.stop();
    assertEquals(store.of("SELECT").length, 1);
  });
});
