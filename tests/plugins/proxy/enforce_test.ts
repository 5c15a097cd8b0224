/**
 * The two modes' promises when the store fails. Enforce: a statement's result never reaches
 * the client before its event is stored — when the store refuses, the client gets a FATAL
 * error instead of its rows and completion, and other sessions go on. Observe: results flow
 * whatever the store does, and what could not be stored is counted in a `PROXY_GAP` event.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { parseNotice } from "../../../daemon/pgwire/errors.ts";
import {
  bind,
  copyData,
  copyDone,
  execute,
  parse,
  query,
  RawClient,
  sync,
  terminate,
  types,
} from "./_client.ts";
import { psql, startProxy } from "./_harness.ts";

/** Every message until the server closes the connection. */
async function drain(c: RawClient): Promise<{ type: number; payload: Uint8Array }[]> {
  const out = [];
  for (;;) {
    const m = await c.next().catch(() => null);
    if (m === null) return out;
    out.push({ type: m.type, payload: m.payload.slice() });
  }
}

Deno.test("enforce mode: results arrive once their events are stored", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg, { mode: "enforce" });
  const r = await psql(proxy.port, ["-c", "SELECT 40 + 2", "-c", "SELECT 1/0"]);
  assertEquals(r.stdout, "42\n");
  assert(r.stderr.includes("division by zero"));
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  assertEquals(proxy.store.events.map((e) => e.command), [
    "CONNECT",
    "AUTH_OK",
    "SELECT",
    "SELECT",
    "DISCONNECT",
  ]);
  assertEquals(proxy.store.events[2]!.context?.tx_status, "I");
  assertEquals(proxy.store.events[3]!.sqlstate, "22012");
});

Deno.test("enforce mode: COPY in and out work, the data flowing while the completion waits", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE items (id int, name text)");
  await using proxy = await startProxy(pg, { mode: "enforce" });
  const rows = Array.from({ length: 2000 }, (_, i) => `${i}\tname-${i}`).join("\n") + "\n";
  const copyIn = await psql(proxy.port, ["-c", "\\copy items FROM STDIN"], { stdin: rows });
  assertEquals(copyIn.code, 0, copyIn.stderr);
  const copyOut = await psql(proxy.port, ["-c", "COPY items TO STDOUT"]);
  assertEquals(copyOut.stdout, rows);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 2);
  await proxy.stop();
  assertEquals(proxy.store.of("COPY").map((e) => e.context?.rows), [2000, 2000]);
});

Deno.test("enforce mode: a COPY FROM STDIN after a completed statement in the same Query is not held up", async () => {
  await using pg = await startPostgres();
  await pg.sql("CREATE TABLE items (id int)");
  await using proxy = await startProxy(pg, { mode: "enforce" });
  const c = await RawClient.login(proxy.port);
  // Held up, the client would wait for ever: closing it makes the test fail instead.
  const guard = setTimeout(() => c.close(), 30_000);
  try {
    // The INSERT's completion comes in the same chunk as the CopyInResponse, and the
    // ReadyForQuery that would tell its transaction state only after the client's data: the
    // client must get the CopyInResponse first.
    await c.send(query("INSERT INTO items VALUES (1); COPY items FROM STDIN"));
    const before: string[] = [];
    for (;;) {
      const m = await c.next();
      if (m === null) throw new Error(`connection ended after ${before.join("")}`);
      before.push(String.fromCharCode(m.type));
      if (m.type === 0x47) break;
    }
    assertEquals(before.join(""), "CG");
    await c.send(copyData(new TextEncoder().encode("2\n3\n")), copyDone());
    assertEquals(types(await c.untilReady()), "CZ");
    await c.send(terminate());
  } finally {
    clearTimeout(guard);
    c.close();
  }
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  assertEquals(proxy.store.of("INSERT").length, 1);
  assertEquals(proxy.store.of("COPY").map((e) => e.context?.rows), [2]);
  assertEquals((await pg.sql("SELECT count(*) FROM items")).trim(), "3");
});

for (const protocol of ["simple", "extended"] as const) {
  Deno.test(`enforce mode withholds a result the store refused (${protocol} protocol)`, async () => {
    await using pg = await startPostgres();
    await using proxy = await startProxy(pg, { mode: "enforce" });
    const c = await RawClient.login(proxy.port);
    let got;
    try {
      proxy.store.failing = true;
      const sql = "SELECT 'unaudited-row'";
      await c.send(
        ...(protocol === "simple"
          ? [query(sql)]
          : [parse("", sql), bind("", "", []), execute(), sync()]),
      );
      got = await drain(c);
    } finally {
      c.close();
    }
    // The ParseComplete and BindComplete came in the chunk with the result, and wait with it.
    assertEquals(types(got), "E");
    const error = parseNotice(got[got.length - 1]!.payload);
    assertEquals(error.severity, "FATAL");
    assertEquals(error.code, "58000");
    assert(!new TextDecoder().decode(got.at(-1)!.payload).includes("unaudited-row"));
    // The store is back: a new session works, and the refused statement left no event.
    proxy.store.failing = false;
    const other = await psql(proxy.port, ["-c", "SELECT 'next'"]);
    assertEquals(other.stdout, "next\n");
    await assertEventually(() => proxy.store.of("DISCONNECT").length >= 1);
    await proxy.stop();
    assert(!proxy.store.events.some((e) => e.statement?.includes("unaudited-row")));
    assert(proxy.store.refused > 0);
  });
}

Deno.test("observe mode: results flow while the store refuses, and a PROXY_GAP counts the loss", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg);
  const c = await RawClient.login(proxy.port);
  try {
    await assertEventually(() => proxy.store.of("AUTH_OK").length === 1);
    proxy.store.failing = true;
    for (let i = 0; i < 5; i++) {
      await c.send(query(`SELECT ${i}`));
      assertEquals(types(await c.untilReady()), "TDCZ");
    }
    await assertEventually(() => proxy.store.refused >= 5, { message: "the writer tried" });
    proxy.store.failing = false;
    await c.send(query("SELECT 'after'"));
    await c.untilReady();
    await c.send(terminate());
  } finally {
    c.close();
  }
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  const [gap] = proxy.store.of("PROXY_GAP");
  assertEquals(gap?.kind, "system");
  // Every refused event is counted once, however often the gap event itself was refused.
  const lost = proxy.store.refusedEvents.filter((e) => e.command !== "PROXY_GAP");
  assertEquals(gap?.context?.lost, lost.length);
  assert(proxy.store.events.some((e) => e.statement === "SELECT 'after'"));
});
