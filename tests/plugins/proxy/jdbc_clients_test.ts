/**
 * The PostgreSQL JDBC driver (Debian's `libpostgresql-jdbc-java`) on Debian's JRE through the
 * proxy, with `clients/JdbcClient.java` run as a single-file program (the JRE's runtime image
 * carries the compiler module, so no JDK is needed): a prepared SELECT executed five times is
 * five events with their parameters, unnamed until pgjdbc's prepareThreshold (3) makes it a
 * named server-side statement; a batch of ten INSERTs is ten events with each row's
 * parameters; an explicit transaction is BEGIN, the UPDATE with its row count, COMMIT.
 */

import { assert, assertEquals } from "../../support/assert.ts";
import {
  brief,
  ctx,
  duplicatePositions,
  sessionOf,
  settledEvents,
  startProxied,
  statementsOf,
} from "../../support/proxy_clients.ts";

const JDBC_JAR = "/usr/share/java/postgresql.jar";
const CLIENT = new URL("./clients/JdbcClient.java", import.meta.url).pathname;

async function javaRuns(): Promise<boolean> {
  try {
    await Deno.stat(JDBC_JAR);
    const out = await new Deno.Command("java", {
      args: ["-version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

const installed = await javaRuns();
if (!installed) {
  console.warn(
    `SKIPPED JDBC client tests: no java on PATH or no ${JDBC_JAR} ` +
      "(scripts/setup.sh --tests installs default-jre-headless and libpostgresql-jdbc-java)",
  );
}

Deno.test({
  name: "proxy records pgjdbc's prepared statements, a batch and a transaction",
  ignore: !installed,
  fn: async () => {
    await using db = await startProxied("observe");
    const url = `jdbc:postgresql://127.0.0.1:${db.proxy.port}/postgres` +
      "?ApplicationName=jdbc-client&prepareThreshold=3&sslmode=disable" +
      // Without it pgjdbc names the application with a SET after login, not in the startup
      // packet, and the CONNECT event could not say it.
      "&assumeMinServerVersion=10";
    const out = await new Deno.Command("java", {
      args: ["-cp", JDBC_JAR, CLIENT, url, db.pg.superuser, db.pg.password],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert(out.success, `JDBC client failed: ${dec.decode(out.stderr)}`);
    const seen = JSON.parse(dec.decode(out.stdout));
    assertEquals(seen, {
      doubled: [2, 4, 6, 8, 10],
      batch: Array(10).fill(1),
      updated: 4,
      total: 55_020,
    });

    const events = await settledEvents(db.proxy, 1);
    assertEquals(duplicatePositions(events), [], "no source_pos stored twice");
    const statements = statementsOf(events, sessionOf(events, "jdbc-client"));
    const all = JSON.stringify(statements.map(brief));
    assert(statements.every((e) => ctx(e, "protocol") === "extended"), all);
    assertEquals(statements.filter((e) => e.sqlstate !== undefined), [], all);

    const selects = statements.filter((e) => e.statement === "SELECT $1::int * 2 AS doubled");
    assertEquals(selects.map((e) => e.params), [["1"], ["2"], ["3"], ["4"], ["5"]], all);
    assertEquals(selects.map((e) => ctx(e, "rows")), [1, 1, 1, 1, 1], all);
    const names = selects.map((e) => String(ctx(e, "statement_name") ?? ""));
    assertEquals(names.slice(0, 2), ["", ""], `unnamed before the threshold: ${all}`);
    assert(names[2] !== "", `named from the threshold on: ${all}`);
    assertEquals(names.slice(2), [names[2], names[2], names[2]], `one name from then on: ${all}`);

    const inserts = statements.filter((e) =>
      e.statement === "INSERT INTO jdbc_items (id, name, amount) VALUES ($1, $2, $3)"
    );
    assertEquals(
      inserts.map((e) => e.params),
      Array.from(
        { length: 10 },
        (_, i) => [String(i + 1), `item ${i + 1}`, String(1000 * (i + 1))],
      ),
      all,
    );
    assert(inserts.every((e) => ctx(e, "tag") === "INSERT 0 1" && e.command === "INSERT"), all);

    const update = statements.findIndex((e) => String(e.statement).startsWith("UPDATE jdbc_items"));
    assert(update > 0, all);
    const tx = statements.slice(update - 1, update + 2);
    assertEquals(
      tx.map((e) => [e.command, e.params ?? [], ctx(e, "rows") ?? null, ctx(e, "tx_status")]),
      [
        ["BEGIN", [], null, "T"],
        ["UPDATE", ["5", "4"], 4, "T"],
        ["COMMIT", [], null, "I"],
      ],
      all,
    );
  },
});
