/**
 * The extended protocol through the proxy: pgbench in `extended` and `prepared` modes (real
 * clients, many sessions), and a bare client for what a test must control byte by byte —
 * binary parameters decoded by type, a pipeline with an error in the middle (the server skips
 * to Sync, and so do the events), a suspended portal, and a cancel request.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { PGBENCH } from "../../support/pgbench.ts";
import { startPostgres } from "../../support/postgres.ts";
import {
  bind,
  describe,
  execute,
  parse,
  query,
  RawClient,
  sync,
  terminate,
  text,
  types,
} from "./_client.ts";
import { startProxy } from "./_harness.ts";

for (const mode of ["extended", "prepared"] as const) {
  Deno.test(`proxy source records pgbench -M ${mode}: each statement with its parameters`, async () => {
    await using pg = await startPostgres();
    await pg.sql("CREATE TABLE bench (id int, note text)");
    await using proxy = await startProxy(pg);
    const script = await Deno.makeTempFile({ suffix: ".sql" });
    try {
      await Deno.writeTextFile(
        script,
        "\\set v random(1, 1000000)\nINSERT INTO bench VALUES (:v, 'n' || :v);\n" +
          "SELECT count(*) FROM bench WHERE id = :v;\n",
      );
      const out = await new Deno.Command(PGBENCH, {
        args: [
          "-n",
          "-h",
          "127.0.0.1",
          "-p",
          String(proxy.port),
          "-U",
          "postgres",
          "-M",
          mode,
          "-c",
          "3",
          "-t",
          "20",
          "-f",
          script,
          "postgres",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    } finally {
      await Deno.remove(script);
    }
    // pgbench opens one more session than its clients, to look at the server first.
    await assertEventually(() =>
      proxy.store.of("DISCONNECT").length === proxy.store.of("CONNECT").length
    );
    await proxy.stop();
    const inserts = proxy.store.of("INSERT");
    assertEquals(inserts.length, 60);
    const ids = (await pg.sql("SELECT id FROM bench ORDER BY id")).split("\n");
    // What the events say was inserted is exactly what the table holds.
    assertEquals(inserts.map((e) => e.params![0]!).sort(), [...ids].sort());
    for (const e of inserts) {
      // pgbench gives each use of a variable a parameter of its own.
      assertEquals(e.statement, "INSERT INTO bench VALUES ($1, 'n' || $2);");
      assertEquals(e.params![1], e.params![0]);
      assertEquals(e.context?.protocol, "extended");
      assertEquals(e.context?.rows, 1);
      assertEquals(e.context?.tx_status, "I");
      if (mode === "prepared") assert(e.context?.statement_name !== "", "a named statement");
      else assertEquals(e.context?.statement_name, "");
    }
    const selects = proxy.store.of("SELECT");
    assertEquals(selects.length, 60);
    assert(selects.every((e) => e.context?.rows === 1));
    assertEquals(new Set(inserts.map((e) => e.session_id)).size, 3);
  });
}

const int4 = (v: number): { format: 1; value: Uint8Array } => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v);
  return { format: 1, value: b };
};
const int8 = (v: bigint): { format: 1; value: Uint8Array } => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v);
  return { format: 1, value: b };
};

Deno.test("proxy source decodes binary parameters and follows a pipeline past an error", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg);
  const c = await RawClient.login(proxy.port);
  try {
    const uuid = { format: 1 as const, value: new Uint8Array(16).map((_, i) => i * 17) };
    await c.send(
      parse("s1", "SELECT $1::int4 + $2::int8, $3::text, $4::uuid, $5::bytea", [
        23,
        20,
        25,
        2950,
        0,
      ]),
      bind("", "s1", [int4(41), int8(-7n), text("héllo"), uuid, {
        format: 1,
        value: new Uint8Array([0, 255]),
      }]),
      execute(),
      // An error in the middle: the server skips the rest up to Sync.
      parse("", "SELEC broken"),
      bind("", "", []),
      execute(),
      sync(),
      // The next batch runs again; the NULL and the text parameter as sent.
      parse("s2", "SELECT $1::int, $2::text"),
      bind("p2", "s2", [{ format: 0, value: null }, text("it's")]),
      describe("P", "p2"),
      execute("p2"),
      sync(),
    );
    assertEquals(types(await c.untilReady()), "12DCEZ");
    assertEquals(types(await c.untilReady()), "12TDCZ");
    await c.send(terminate());
  } finally {
    c.close();
  }
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  const statements = proxy.store.events.filter((e) =>
    !["CONNECT", "AUTH_OK", "DISCONNECT"].includes(e.command!)
  );
  assertEquals(statements.length, 3);
  const [first, broken, second] = statements;
  assertEquals(first!.command, "SELECT");
  assertEquals(first!.params, [
    "41",
    "-7",
    "héllo",
    "00112233-4455-6677-8899-aabbccddeeff",
    "\\x00ff",
  ]);
  assertEquals(first!.context?.statement_name, "s1");
  assertEquals(first!.context?.portal, "");
  assertEquals(first!.context?.tx_status, "I");
  assertEquals(broken!.statement, "SELEC broken");
  assertEquals(broken!.command, "SELEC");
  assertEquals(broken!.sqlstate, "42601");
  assertEquals(second!.params, [null, "it's"]);
  assertEquals(second!.context?.portal, "p2");
  assertEquals(second!.context?.statement_name, "s2");
});

Deno.test("proxy source records each fetch of a suspended portal, and a cancel", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg);
  const c = await RawClient.login(proxy.port);
  try {
    await c.send(
      query("BEGIN"),
      parse("", "SELECT g FROM generate_series(1, 5) g"),
      bind("cur", "", []),
      execute("cur", 3),
      execute("cur", 3),
      sync(),
    );
    assertEquals(types(await c.untilReady()), "CZ");
    assertEquals(types(await c.untilReady()), "12DDDsDDCZ");
    await c.send(query("COMMIT"));
    await c.untilReady();
    // A cancel from a second connection carries the key the server gave this session.
    await c.send(query("SELECT pg_sleep(60)"));
    await assertEventually(async () =>
      (await pg.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'",
      )) ===
        "1"
    );
    const cancel = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    const req = new Uint8Array(16);
    const v = new DataView(req.buffer);
    v.setInt32(0, 16);
    v.setInt32(4, 80877102);
    v.setInt32(8, c.key!.pid);
    v.setInt32(12, c.key!.secret);
    await cancel.write(req);
    await cancel.read(new Uint8Array(1)).catch(() => null);
    cancel.close();
    const answer = await c.untilReady();
    assertEquals(types(answer), "TEZ");
    await c.send(terminate());
  } finally {
    c.close();
  }
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  const fetches = proxy.store.events.filter((e) => e.statement?.startsWith("SELECT g"));
  assertEquals(fetches.map((e) => e.context?.rows), [3, 2]);
  assertEquals(fetches[0]!.context?.suspended, true);
  const sid = proxy.store.of("CONNECT")[0]!.session_id;
  const [cancelEvent] = proxy.store.of("CANCEL");
  assertEquals(cancelEvent?.session_id, sid);
  assertEquals(cancelEvent?.context?.matched, true);
  const slept = proxy.store.events.find((e) => e.statement === "SELECT pg_sleep(60)");
  assertEquals(slept?.sqlstate, "57014");
});
