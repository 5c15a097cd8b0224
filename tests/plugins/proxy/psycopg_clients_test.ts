/**
 * Python psycopg 3 (Debian's `python3-psycopg`) through the proxy, with `clients/psycopg_client.py`:
 * parameters sent in binary (`%b`: int2, bytea, bool, float8) beside text ones are stored as
 * their text forms, and so are binary numerics, exactly as the server prints what it received; a pipeline of four INSERTs without a Sync between them, the third
 * failing on a duplicate key, is stored as two executions the client saw succeed, the failure
 * with its SQLSTATE and parameters, and nothing for the INSERT the server skipped.
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

/** Debian's interpreter: the one `python3-psycopg` installs into. */
const PYTHON = "/usr/bin/python3";
const CLIENT = new URL("./clients/psycopg_client.py", import.meta.url).pathname;

async function psycopgInstalled(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import psycopg"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

const installed = await psycopgInstalled();
if (!installed) {
  console.warn(
    `SKIPPED psycopg client tests: ${PYTHON} cannot import psycopg ` +
      "(scripts/setup.sh --tests installs python3-psycopg)",
  );
}

Deno.test({
  name: "proxy records psycopg's binary parameters and a pipeline that fails half way",
  ignore: !installed,
  fn: async () => {
    await using db = await startProxied("observe");
    const out = await new Deno.Command(PYTHON, {
      args: [CLIENT, db.dsn()],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert(out.success, `psycopg client failed: ${dec.decode(out.stderr)}`);
    const seen = JSON.parse(dec.decode(out.stdout));
    // What the client saw: the pipeline's failure rolled its implicit transaction back.
    assertEquals(seen.binary_insert, { returned: 7, status: "INSERT 0 1" });
    assertEquals(seen.pipeline_error, "23505");
    // psycopg raises as soon as the error arrives: the fourth INSERT was sent only if that
    // happened after its execute() call, and the server skipped it either way.
    assertEquals(seen.pipeline.slice(0, 3), [
      { returned: 1, status: "INSERT 0 1" },
      { returned: 2, status: "INSERT 0 1" },
      null,
    ]);
    assertEquals(seen.pipeline.slice(3), seen.pipeline.length === 4 ? [null] : []);
    assertEquals(seen.left, [7]);

    const events = await settledEvents(db.proxy, 1);
    assertEquals(duplicatePositions(events), [], "no source_pos stored twice");
    const statements = statementsOf(events, sessionOf(events, "psycopg-client"));
    const all = JSON.stringify(statements.map(brief));

    const binary = statements.filter((e) =>
      String(e.statement).startsWith("INSERT INTO py_items VALUES")
    );
    assertEquals(binary.length, 1, all);
    assertEquals(
      binary[0]!.statement,
      "INSERT INTO py_items VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    );
    assertEquals(
      binary[0]!.params,
      ["7", "12.50", "\\x00ff41", "t", "1.5", `it's "quoted"`],
      `binary parameters decoded to text: ${JSON.stringify(brief(binary[0]!))}`,
    );
    assertEquals([binary[0]!.command, ctx(binary[0]!, "protocol"), ctx(binary[0]!, "rows")], [
      "INSERT",
      "extended",
      1,
    ]);

    const pipelined = statements.filter((e) =>
      String(e.statement).startsWith("INSERT INTO py_items (id, note)")
    );
    assertEquals(
      pipelined.map((e) => [e.params, e.sqlstate ?? null, ctx(e, "tag") ?? null]),
      [
        [["1", "pipelined 1"], null, "INSERT 0 1"],
        [["2", "pipelined 2"], null, "INSERT 0 1"],
        [["1", "pipelined 1"], "23505", null],
      ],
      `the two executions the client saw succeed, the failure, nothing for the skipped one: ${all}`,
    );
    assert(String(pipelined[2]!.error).includes("duplicate key"), all);

    const select = statements.filter((e) =>
      String(e.statement).startsWith("SELECT id FROM py_items")
    );
    assertEquals(select.map((e) => ctx(e, "rows")), [1], all);
    assertEquals(statements.filter((e) => e.sqlstate !== undefined).length, 1, all);
  },
});

Deno.test({
  name: "proxy stores psycopg's binary numeric parameters as the server reads them",
  ignore: !installed,
  fn: async () => {
    await using db = await startProxied("observe");
    const out = await new Deno.Command(PYTHON, {
      args: [CLIENT, db.dsn(), "numeric"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert(out.success, `psycopg client failed: ${dec.decode(out.stderr)}`);
    // The server's own text of each value it received: what the record should say.
    const back: string[] = JSON.parse(dec.decode(out.stdout));
    assertEquals(back.length, 6);
    const events = await settledEvents(db.proxy, 1);
    const selects = statementsOf(events, sessionOf(events, "psycopg-numeric"))
      .filter((e) => e.statement === "SELECT $1::text");
    assertEquals(
      selects.map((e) => e.params),
      back.map((v) => [v]),
      `numeric (oid 1700) parameters in binary: ${JSON.stringify(selects.map(brief))}`,
    );
  },
});
