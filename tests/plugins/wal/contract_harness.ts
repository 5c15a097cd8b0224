/**
 * The WAL plugin's part in the source contract (`tests/plugins/contract_test.ts`), with a real
 * PostgreSQL 15 upstream: rows inserted (in a few transactions each time) come out as INSERT
 * row changes; the probe is run with the real password in a password file, with a wrong one,
 * and against a closed port, and must never show either password.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { WAL_PLUGIN } from "../../../plugins/wal/mod.ts";
import { startPostgres } from "../../support/postgres.ts";
import type { ContractHarness, SourceFixture } from "../../support/source_contract.ts";

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
  const table = {
    name: "contract",
    type: "wal",
    dsn: pg.dsn(),
    slot: SLOT,
    publication: PUBLICATION,
  };
  return {
    create: () => WAL_PLUGIN.create(table),
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

/** A port nothing listens on (it did a moment ago; a connection there is refused). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

export const HARNESS: ContractHarness = {
  table: () => ({
    name: "billing",
    type: "wal",
    dsn: "postgres://vigil@127.0.0.1:5432/billing",
    slot: "vigil_billing",
    publication: "vigil_billing",
  }),
  secretProbes: async () => {
    const pg = await startPostgres({ passwordAuth: true });
    const dir = await Deno.makeTempDir({ prefix: "vigil-wal-contract-" });
    const table = async (secret: string, port?: number) => {
      const url = new URL(pg.dsn());
      url.username = pg.superuser;
      url.password = "";
      if (port !== undefined) url.port = String(port);
      const file = `${dir}/${crypto.randomUUID()}.password`;
      await Deno.writeTextFile(file, `${secret}\n`);
      return {
        table: {
          name: "billing",
          type: "wal",
          dsn: url.toString(),
          slot: "vigil_probe",
          publication: "vigil_probe",
          password_file: file,
        },
        secret,
      };
    };
    const wrong = `wrong-${crypto.randomUUID()}`;
    return {
      probes: [
        await table(pg.password),
        await table(wrong),
        await table(wrong, closedPort()),
      ],
      close: async () => {
        await Deno.remove(dir, { recursive: true });
        await pg.close();
      },
    };
  },
  fixture: walFixture,
};
