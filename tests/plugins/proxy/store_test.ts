/**
 * The proxy source through the real pipeline and store, across a restart: every statement a
 * client ran is stored exactly once, a session open at the stop is closed and recorded with
 * reason "restart", sessions after the restart carry new ids, and the core's redaction keeps
 * a password typed into a statement out of the log.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { proxySourceFromTable } from "../../../plugins/proxy/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { query, RawClient, terminate } from "./_client.ts";
import { psql } from "./_harness.ts";

async function stored(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(dir)) if (r.event.source === "db-proxy") out.push(r.event);
  return out;
}

Deno.test("proxy source stores each statement once across a restart, in both modes", async () => {
  await using pg = await startPostgres();
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    try {
      let open: RawClient | undefined;
      for (const [run, mode] of [[0, "observe"], [1, "enforce"]] as const) {
        const source = proxySourceFromTable({
          name: "db-proxy",
          type: "proxy",
          listen: "127.0.0.1:0",
          upstream: `postgres://127.0.0.1:${pg.port}/`,
          mode,
        });
        const ac = new AbortController();
        const running = runSource(store, source, { name: "db-proxy", signal: ac.signal });
        const { port } = await assertEventually(() => source.stats.address);
        for (let i = 0; i < 3; i++) {
          const r = await psql(port, ["-c", `SELECT 'run${run}-stmt${i}'`]);
          assertEquals(r.code, 0, r.stderr);
        }
        if (run === 0) {
          open = await RawClient.login(port);
          await open.send(query("ALTER ROLE postgres PASSWORD 'hunter2-secret'"));
          await open.untilReady();
        } else {
          // The session from before the restart is gone: the stop closed it.
          assertEquals(await open!.next().catch(() => null), null);
          open!.close();
        }
        await assertEventually(async () =>
          (await stored(dir)).filter((e) => e.command === "DISCONNECT").length === 3 + 4 * run
        );
        ac.abort();
        await running;
      }
      await open?.send(terminate()).catch(() => {});
    } finally {
      await store.close();
    }
    const events = await stored(dir);
    const positions = events.map((e) => e.source_pos);
    assertEquals(new Set(positions).size, positions.length, "no event stored twice");
    for (const run of [0, 1]) {
      for (let i = 0; i < 3; i++) {
        const mine = events.filter((e) => e.statement === `SELECT 'run${run}-stmt${i}'`);
        assertEquals(mine.length, 1, `run ${run} statement ${i} stored once`);
      }
    }
    const restarted = events.filter((e) =>
      e.command === "DISCONNECT" && e.context?.reason === "restart"
    );
    assertEquals(restarted.length, 1);
    const alter = events.find((e) => e.command === "ALTER ROLE")!;
    assertEquals(alter.session_id, restarted[0]!.session_id);
    assert(!alter.statement!.includes("hunter2-secret"), alter.statement);
    assertEquals(alter.redacted, true);
    const ids = new Set(events.map((e) => e.session_id));
    assertEquals(ids.size, 7, "3 + 1 sessions before the restart, 3 after, each its own id");
  });
});
