/**
 * Attribution in a real `vigil serve` with both channels of a real PostgreSQL 15: every row
 * change of a pgbench TPC-B run, over the simple and the extended protocol, is linked in the
 * search index to the statement message that made it (role, client address, statement) and that
 * statement to its pgAudit line (with the parameters, over the extended protocol); `vigil
 * reindex` rebuilds the very same links from the log.
 */

import { EventIndex, indexPath } from "../../../daemon/index/event_index.ts";
import type { Attribution } from "../../../daemon/index/links.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { pgbench } from "../../support/pgbench.ts";
import { withPostgres } from "../../support/postgres.ts";
import { alarms, installBoth, nudgeUntil, query, withServingBoth } from "./_serve.ts";

const TABLES = ["pgbench_accounts", "pgbench_tellers", "pgbench_branches", "pgbench_history"];

/** The attribution of each seq, read from the index (opened read-only beside the writer). */
function attributions(data: string, seqs: number[]): Map<number, Attribution> {
  const index = EventIndex.open(indexPath(data), { readonly: true });
  try {
    return new Map(seqs.map((s) => [s, index.attribution(s)]));
  } finally {
    index.close();
  }
}

Deno.test("every pgbench row change (simple and extended protocol) is attributed to its role, client and statement, the same after vigil reindex", async () => {
  await withPostgres(async (pg) => {
    const init = await pgbench(pg, ["-i", "-s", "1", "-q"]).output();
    assertEquals(init.code, 0, new TextDecoder().decode(init.stderr));
    await installBoth(pg);
    let rows: AuditEvent[] = [];
    let before: Map<number, Attribution>;
    await withServingBoth(pg, ["coverage_wait_seconds = 1"], async (data) => {
      for (const mode of ["simple", "extended"]) {
        const run = await pgbench(pg, ["-n", "-M", mode, "-c", "2", "-t", "15"]).output();
        assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
      }
      // 2 modes × 2 clients × 15 transactions × 4 writes.
      const want = 2 * 2 * 15 * 4;
      before = await assertEventually(async () => {
        rows = (await query(data, ["--kind", "row_change"]))
          .filter((e) => TABLES.some((t) => e.object === `public.${t}`));
        if (rows.length < want) return undefined;
        const a = attributions(data, rows.map((r) => r.seq));
        const whole = [...a.values()].every((x) =>
          x.statement !== undefined && x.line !== undefined
        );
        return whole ? a : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500, message: "not every row change attributed" });
      assertEquals(rows.length, want);
      // No coverage alarm for pgbench: the one update pgAudit does not log, made after it,
      // is the first and only one (findings come in commit order).
      const hidden = Number(
        await pg.sql(
          "SET pgaudit.log = 'none'; UPDATE pgbench_branches SET filler = 'x' WHERE bid = 1 " +
            "RETURNING xid(pg_current_xact_id())",
        ),
      );
      const gaps = await nudgeUntil(pg, async () => {
        const found = await alarms(data, "COVERAGE_GAP");
        return found.length > 0 ? found : undefined;
      }, "no coverage alarm for the update pgAudit did not log");
      assertEquals(gaps.map((g) => g.xid), [hidden]);
    }, async (data) => {
      const bySeq = new Map<number, AuditEvent>();
      for (const e of await query(data, [])) bySeq.set(e.seq, e);
      const extended = new Set<number>();
      for (const r of rows) {
        const a = before.get(r.seq)!;
        const stmt = bySeq.get(a.statement!)!;
        const line = bySeq.get(a.line!)!;
        assertEquals([stmt.command, stmt.xid, stmt.object], ["STATEMENT", r.xid, r.object]);
        assertEquals([stmt.role, stmt.client_addr, stmt.application_name], [
          "postgres",
          "127.0.0.1",
          "pgbench",
        ]);
        const table = r.object!.slice("public.".length);
        assert(stmt.statement!.includes(table), `${stmt.statement} for ${table}`);
        assertEquals([line.source, line.class, line.session_id], [
          "shop-log",
          "WRITE",
          stmt.session_id,
        ]);
        assertEquals(line.command, r.command);
        if (line.params !== undefined && line.params.length > 0) extended.add(r.seq);
      }
      // Over the extended protocol the parameters are on the joined pgAudit line: half the run.
      assertEquals(extended.size, rows.length / 2);

      const re = await runVigil(["reindex", "--data", data]);
      assertEquals(re.code, 0, re.stderr);
      const after = attributions(data, rows.map((r) => r.seq));
      assertEquals([...after], [...before]);

      // Search: row changes carry no session or client of their own; their attribution does.
      const all = (await query(data, ["--kind", "row_change", "--client_addr", "127.0.0.1"]))
        .filter((e) => rows.some((r) => r.seq === e.seq));
      assertEquals(all.length, rows.length);
      const one = bySeq.get(before.get(rows[0]!.seq)!.statement!)!;
      const mine = rows.filter((r) =>
        bySeq.get(before.get(r.seq)!.statement!)!.session_id === one.session_id
      ).map((r) => r.seq);
      const found = await query(data, ["--kind", "row_change", "--session_id", one.session_id!]);
      assertEquals(found.map((e) => e.seq), mine);
      assert(mine.length > 0 && mine.length < rows.length, `${mine.length} of ${rows.length}`);
    });
  });
});
