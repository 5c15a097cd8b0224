/**
 * The WAL source against the shared source contract, with a real PostgreSQL 15 upstream: rows
 * inserted (in a few transactions each time) come out as INSERT row changes, the source stops
 * on abort, and after a stop it resumes from the store's position with nothing lost or doubled.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { walSource } from "../../../plugins/wal/mod.ts";
import { startPostgres } from "../../support/postgres.ts";
import { sourceContract, type SourceFixture } from "../../support/source_contract.ts";

const SLOT = "vigil_contract";
const PUBLICATION = "vigil_contract";
/** Each `produce()` call commits this many transactions (fewer when n is smaller). */
const TRANSACTIONS = 3;

async function walFixture(): Promise<SourceFixture> {
  const pg = await startPostgres();
  try {
    // The slot exists before the first produce(): rows committed before a slot exists are not
    // the source's to collect, and the contract produces before it first runs the source.
    await pg.sql(
      `CREATE TABLE t (id int PRIMARY KEY, note text);
       CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES;
       SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput');`,
    );
  } catch (error) {
    await pg.close();
    throw error;
  }
  return {
    create: () => walSource({ dsn: pg.dsn(), slot: SLOT, publication: PUBLICATION }),
    produce: async (n, from) => {
      const size = Math.ceil(n / TRANSACTIONS);
      const statements: string[] = [];
      for (let first = from; first < from + n; first += size) {
        const last = Math.min(from + n, first + size) - 1;
        statements.push(
          `INSERT INTO t SELECT i, 'row ' || i FROM generate_series(${first}, ${last}) i;`,
        );
      }
      await pg.sql(statements.join("\n"));
    },
    identity: (ev: AuditEvent) => {
      const id = ev.new_row?.id;
      return ev.kind === "row_change" && ev.command === "INSERT" && ev.object === "public.t" &&
          typeof id === "string"
        ? id
        : null;
    },
    close: () => pg.close(),
  };
}

sourceContract("wal source", walFixture);
