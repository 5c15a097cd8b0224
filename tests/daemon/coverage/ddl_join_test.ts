/**
 * The DDL half of the coverage join judges an entry once its own database's clocks pass it, while
 * it skips the walk over pending entries when none can be due: per database, across a save and
 * load, and past the pending bound.
 */

import { DdlJoin, type DdlJudging } from "../../../daemon/coverage/ddl_join.ts";
import type { CoverageFinding } from "../../../daemon/coverage/finding.ts";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assertEquals } from "../../support/assert.ts";

const S = 1_000_000;

/** Clocks set by hand, per database; every database judged. */
function clocks(): DdlJudging & { at: Map<string, number> } {
  const at = new Map<string, number>();
  const clock = (db: string): number => at.get(db) ?? -Infinity;
  return {
    at,
    walClock: clock,
    logClock: clock,
    judged: () => true,
    waitUs: 5 * S,
    quietUs: 600 * S,
  };
}

function ddl(ts: number, db: string, statement: string): AuditEvent {
  return { ts, source: "w", kind: "ddl", db, statement, command: "CREATE TABLE" } as AuditEvent;
}

function judge(join: DdlJoin, j: DdlJudging): string[] {
  const out: CoverageFinding[] = [];
  join.judge(j, (f) => out.push(f));
  return out.map((f) => `${f.db}:${f.statement}`);
}

Deno.test("DDL of each database is judged once its own clocks pass it, whatever another database holds", () => {
  const join = new DdlJoin(100);
  const j = clocks();
  join.wal(1, ddl(100 * S, "a", "create table a1 ()"), "a");
  join.wal(2, ddl(50 * S, "b", "create table b1 ()"), "b");
  join.wal(3, ddl(200 * S, "a", "create table a2 ()"), "a");
  j.at.set("a", 100 * S);
  j.at.set("b", 50 * S);
  assertEquals(judge(join, j), []);
  // a's clocks pass its first entry by the wait, not its second; b's older entry stays pending.
  j.at.set("a", 106 * S);
  assertEquals(judge(join, j), ["a:create table a1 ()"]);
  assertEquals(join.size, 2);
  j.at.set("a", 205 * S);
  assertEquals(judge(join, j), []);
  j.at.set("a", 206 * S);
  assertEquals(judge(join, j), ["a:create table a2 ()"]);
  j.at.set("b", 56 * S);
  assertEquals(judge(join, j), ["b:create table b1 ()"]);
  assertEquals(join.size, 0);
});

Deno.test("DDL pending across a save and load, or past the bound, is still judged when due", () => {
  const first = new DdlJoin(2);
  const j = clocks();
  first.wal(1, ddl(10 * S, "a", "create table x ()"), "a");
  first.wal(2, ddl(20 * S, "a", "create table y ()"), "a");
  // The bound lets the oldest go unjudged; the least time pending moves up with it.
  first.wal(3, ddl(30 * S, "a", "create table z ()"), "a");
  assertEquals(first.dropped, 1);
  const again = new DdlJoin(2);
  again.load(JSON.parse(JSON.stringify(first.save())));
  j.at.set("a", 26 * S);
  assertEquals(judge(again, j), ["a:create table y ()"]);
  j.at.set("a", 36 * S);
  assertEquals(judge(again, j), ["a:create table z ()"]);
});
