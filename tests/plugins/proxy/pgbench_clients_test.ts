/**
 * pgbench through the proxy: `pgbench -i` (whose accounts arrive by COPY) and TPC-B in each
 * query mode — `simple` (text only), `extended` (unnamed statements, parameters) and `prepared`
 * (named statements parsed once, executed many times). Each transaction pgbench reports is
 * its seven statements in the record, once each; the parameters stored for extended and
 * prepared (and the literals of simple) add up to exactly the balance changes the database
 * holds.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { PGBENCH } from "../../support/pgbench.ts";
import {
  brief,
  ctx,
  duplicatePositions,
  type ProxiedCluster,
  settledEvents,
  startProxied,
  statementsOf,
  TPCB_STATEMENTS,
  tpcbKind,
  transactionsOf,
} from "../../support/proxy_clients.ts";

const CLIENTS = 2;
const TRANSACTIONS = 25;

/** pgbench through the proxy with `PGAPPNAME=app`. */
async function pgbench(db: ProxiedCluster, args: string[], app: string): Promise<string> {
  const out = await new Deno.Command(PGBENCH, {
    args: ["-h", "127.0.0.1", "-p", String(db.proxy.port), "-U", db.pg.superuser, ...args]
      .concat(["postgres"]),
    env: { PGPASSWORD: db.pg.password, PGAPPNAME: app },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert(out.success, `pgbench ${args.join(" ")} failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** The balance delta an accounts UPDATE applied: its first parameter, or the literal. */
function delta(e: AuditEvent, mode: string): number {
  if (mode === "simple") {
    const m = /abalance \+ (-?\d+)/.exec(String(e.statement));
    assert(m !== null, `no delta literal in ${e.statement}`);
    return Number(m[1]);
  }
  assert(e.params?.length === 2, `accounts UPDATE params: ${JSON.stringify(brief(e))}`);
  return Number(e.params[0]);
}

async function sumBalances(db: ProxiedCluster): Promise<number> {
  return Number(await db.pg.sql("SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts"));
}

Deno.test("proxy records pgbench -i and TPC-B in simple, extended and prepared mode", async () => {
  await using db = await startProxied("observe");
  await pgbench(db, ["-i", "-s", "1", "-q"], "pgbench-init");
  let balance = await sumBalances(db);
  const counted: Record<string, number> = {};
  for (const mode of ["simple", "extended", "prepared"]) {
    const app = `pgbench-${mode}`;
    const out = await pgbench(db, [
      "-n",
      "-M",
      mode,
      "-c",
      String(CLIENTS),
      "-t",
      String(TRANSACTIONS),
    ], app);
    const processed = Number(/transactions actually processed: (\d+)/.exec(out)?.[1]);
    assertEquals(processed, CLIENTS * TRANSACTIONS, `pgbench ${mode}: ${out}`);
    const now = await sumBalances(db);
    counted[mode] = now - balance;
    balance = now;
  }

  const events = await settledEvents(db.proxy, 1 + 3 * CLIENTS);
  assertEquals(duplicatePositions(events), [], "no source_pos stored twice");

  // pgbench -i: the accounts arrive by COPY, 100 000 rows at scale 1.
  const init = events.filter((e) =>
    e.command === "CONNECT" && e.application_name === "pgbench-init"
  );
  const initStatements = init.flatMap((c) => statementsOf(events, String(c.session_id)));
  const copies = initStatements.filter((e) => e.command === "COPY");
  assertEquals(copies.length, 1, `one COPY in pgbench -i: ${JSON.stringify(copies.map(brief))}`);
  assertEquals(ctx(copies[0]!, "rows"), 100_000);
  assert(Number(ctx(copies[0]!, "bytes_in")) > 100_000 * 10, JSON.stringify(brief(copies[0]!)));

  for (const mode of ["simple", "extended", "prepared"]) {
    const sessions = events
      .filter((e) => e.command === "CONNECT" && e.application_name === `pgbench-${mode}`)
      .map((e) => String(e.session_id));
    // Each client's session: its transactions whole and in order, none twice.
    const perSession = sessions.map((s) => transactionsOf(statementsOf(events, s), s).length);
    assertEquals(
      perSession.filter((n) => n > 0),
      Array(CLIENTS).fill(TRANSACTIONS),
      `${mode}: ${TRANSACTIONS} whole transactions in each client's session`,
    );
    const statements = sessions.flatMap((s) => statementsOf(events, s));
    const tpcb = statements.filter((e) => tpcbKind(e) !== undefined);
    const counts = new Map<string, number>();
    for (const e of tpcb) counts.set(tpcbKind(e)!, (counts.get(tpcbKind(e)!) ?? 0) + 1);
    assertEquals(
      Object.fromEntries(counts),
      Object.fromEntries(TPCB_STATEMENTS.map(([k]) => [k, CLIENTS * TRANSACTIONS])),
      `${mode}: each statement of each transaction once`,
    );
    for (const e of tpcb) {
      const what = `${mode}: ${JSON.stringify(brief(e))}`;
      assertEquals(e.sqlstate, undefined, what);
      assertEquals(ctx(e, "protocol"), mode === "simple" ? "simple" : "extended", what);
      const kind = tpcbKind(e)!;
      if (kind === "BEGIN" || kind === "END") {
        assertEquals(e.params ?? [], [], what);
        assertEquals(ctx(e, "tx_status"), kind === "BEGIN" ? "T" : "I", what);
        continue;
      }
      assertEquals(ctx(e, "tx_status"), "T", what);
      assertEquals(ctx(e, "rows"), 1, what);
      // Extended and prepared send values as parameters: accounts 2, tellers 2, branches 2,
      // SELECT 1, INSERT 4; simple mode inlines them.
      const params = { "UPDATE accounts": 2, "SELECT abalance": 1, "INSERT history": 4 }[kind] ??
        2;
      assertEquals(e.params?.length ?? 0, mode === "simple" ? 0 : params, what);
      if (mode !== "simple") {
        assert(e.params!.every((p) => p !== null && /^-?\d+$/.test(p)), what);
      }
      if (mode === "prepared") assert(String(ctx(e, "statement_name")) !== "", what);
      if (mode === "extended") assertEquals(ctx(e, "statement_name"), "", what);
    }
    const stored = tpcb.filter((e) => tpcbKind(e) === "UPDATE accounts")
      .reduce((sum, e) => sum + delta(e, mode), 0);
    assertEquals(stored, counted[mode], `${mode}: stored deltas add up to the balance change`);
  }
});
