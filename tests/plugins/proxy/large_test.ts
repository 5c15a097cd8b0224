/**
 * Bounded recording of what is huge: a statement of megabytes and a parameter of megabytes
 * reach the server whole, while their events keep the first `record_bytes` and say how long
 * the rest was; a result of tens of megabytes streams through enforce mode whole, its event
 * stored before its completion reached the client.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { bind, execute, parse, query, RawClient, sync, terminate, text, types } from "./_client.ts";
import { psql, startProxy } from "./_harness.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("proxy source records the head of a huge statement and parameter, forwards them whole", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg, { record_bytes: 4096 });
  const big = "x".repeat(3_000_000);
  const c = await RawClient.login(proxy.port);
  try {
    await c.send(query(`SELECT length('${big}')`));
    const simple = await c.untilReady();
    assertEquals(types(simple), "TDCZ");
    assert(new TextDecoder().decode(simple[1]!.payload).includes("3000000"));
    await c.send(
      parse("", "SELECT length($1), $2::int"),
      bind("", "", [text(big), text("7")]),
      execute(),
      sync(),
    );
    const extended = await c.untilReady();
    assertEquals(types(extended), "12DCZ");
    assert(new TextDecoder().decode(extended[2]!.payload).includes("3000000"));
    await c.send(terminate());
  } finally {
    c.close();
  }
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  const [simpleEvent, extendedEvent] = proxy.store.of("SELECT");
  assertEquals(simpleEvent!.statement!.length, 4096);
  assert(simpleEvent!.statement!.startsWith("SELECT length('xxx"));
  assertEquals(simpleEvent!.context?.statement_truncated, true);
  assertEquals(simpleEvent!.context?.statement_bytes, big.length + "SELECT length('')".length);
  assertEquals(extendedEvent!.statement, "SELECT length($1), $2::int");
  assertEquals(extendedEvent!.params!.length, 1, "the value after the cut is not recorded");
  assert(extendedEvent!.params![0]!.length <= 4096 + 1024);
  assertEquals(extendedEvent!.context?.params_truncated, true);
  assertEquals(extendedEvent!.context?.params_count, 2);
});

Deno.test("enforce mode streams a result of tens of megabytes whole", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg, { mode: "enforce" });
  const r = await psql(proxy.port, [
    "-c",
    "SELECT g, repeat('y', 2000) FROM generate_series(1, 20000) g",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assertEquals(lines.length, 20000);
  assertEquals(lines[19999], `20000|${"y".repeat(2000)}`);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  const [select] = proxy.store.of("SELECT");
  assertEquals(select?.context?.rows, 20000);
  assertEquals(select?.context?.tx_status, "I");
});

Deno.test("a result of 200 MB passes through enforce mode in bounded memory", async () => {
  await using pg = await startPostgres();
  await using proxy = await startProxy(pg, { mode: "enforce" });
  // The client is psql, in a process of its own, writing the rows to a file: this process's
  // memory is then the proxy's alone. (A client in this process left 200 MB of message buffers
  // for the collector, which under the full suite's load took them late: 130 MiB once.)
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 20);
  try {
    await withTempDir(async (dir) => {
      const run = await psql(proxy.port, [
        "-o",
        `${dir}/rows`,
        "-c",
        "COPY (SELECT repeat('x', 2000) FROM generate_series(1, 100000)) TO STDOUT",
      ]);
      assertEquals([run.code, run.stderr], [0, ""]);
      assertEquals((await Deno.stat(`${dir}/rows`)).size, 100000 * 2001, "every row, whole");
    });
  } finally {
    clearInterval(sampler);
  }
  // The result is 200 MB (191 MiB); what the proxy holds of it at once is a few chunks. The
  // process grew by 27–42 MiB in runs alone and beside two index builds.
  const grown = (peak - before) / (1024 * 1024);
  assert(grown < 96, `memory grew by ${grown.toFixed(0)} MiB while 200 MB passed`);
  await assertEventually(() => proxy.store.of("DISCONNECT").length === 1);
  await proxy.stop();
  const [copy] = proxy.store.of("COPY");
  assertEquals(copy?.context?.bytes_out, 100000 * 2001);
  assertEquals(copy?.context?.rows, 100000);
});
