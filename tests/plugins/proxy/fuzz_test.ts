/**
 * Garbage on the wire: connections that send random startup packets, unknown message types,
 * messages cut off by a closed connection, or random bodies under valid types. The proxy
 * survives every one, records a `PROXY_PROTOCOL_ERROR` for each that is not PostgreSQL's
 * protocol, closes only that connection, and a session opened before keeps working.
 * Seeded: a failure names its seed (`VIGIL_FUZZ_SEED` replays it).
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { prng } from "../../support/random.ts";
import { concat, query, RawClient, terminate, types } from "./_client.ts";
import { psql, startProxy } from "./_harness.ts";

const SEED = Number(Deno.env.get("VIGIL_FUZZ_SEED") ?? Date.now() % 1_000_000);
const CASES = 40;
/** Type bytes no client may send. */
const INVALID_TYPES = "abgjklmoqrstuvwyzAGIJKLMNORTUVWYZ0123456789!#$%".split("");
const VALID_TYPES = "QPBEDC".split("");

Deno.test(`proxy source survives garbage from clients (seed ${SEED})`, async () => {
  const rand = prng(SEED);
  const bytes = (n: number): Uint8Array =>
    Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const header = (type: string, length: number): Uint8Array => {
    const h = new Uint8Array(5);
    h[0] = type.charCodeAt(0);
    new DataView(h.buffer).setUint32(1, length);
    return h;
  };

  await using pg = await startPostgres();
  await using proxy = await startProxy(pg);
  const good = await RawClient.login(proxy.port, "postgres", "good-client");
  /** Client ports of the connections that must end in a protocol error. */
  const garbage: number[] = [];
  try {
    for (let i = 0; i < CASES; i++) {
      const kind = i % 4;
      if (kind === 0) {
        // A startup packet whose length no client sends, then random bytes.
        const c = await RawClient.open(proxy.port);
        garbage.push(c.conn.localAddr.port);
        await c.send(concat(new Uint8Array([0x7f]), bytes(3 + Math.floor(rand() * 200))))
          .catch(() => {});
        assertEquals(await c.next().catch(() => null), null);
        c.close();
        continue;
      }
      const c = await RawClient.login(proxy.port, "postgres", `fuzz-${i}`);
      const port = c.conn.localAddr.port;
      if (kind === 1) {
        // A message type that does not exist, with a random body.
        const body = bytes(Math.floor(rand() * 100));
        garbage.push(port);
        await c.send(header(pick(INVALID_TYPES), body.length + 4), body).catch(() => {});
        assertEquals(await c.next().catch(() => null), null);
      } else if (kind === 2) {
        // A valid type whose body the connection never delivers.
        garbage.push(port);
        await c.send(header(pick(VALID_TYPES), 1000 + Math.floor(rand() * 1e6)), bytes(10));
      } else {
        // Random bodies under valid types: the proxy or the server refuses them, or not.
        for (let k = 0; k < 3; k++) {
          const body = bytes(Math.floor(rand() * 64));
          await c.send(header(pick(VALID_TYPES), body.length + 4), body).catch(() => {});
        }
        await c.send(terminate()).catch(() => {});
      }
      c.close();
    }
    // Every garbage connection is gone; the session opened before still works.
    await assertEventually(() => proxy.source.stats.sessions === 1, {
      message: "only the good session is left",
    });
    await good.send(query("SELECT 'still here'"));
    const answer = await good.untilReady();
    assertEquals(types(answer), "TDCZ");
    await good.send(terminate());
  } finally {
    good.close();
  }
  const after = await psql(proxy.port, ["-c", "SELECT 'new session'"]);
  assertEquals(after.stdout, "new session\n", after.stderr);
  await assertEventually(() =>
    proxy.source.stats.sessions === 0 &&
    proxy.store.of("DISCONNECT").length === proxy.store.of("CONNECT").length
  );
  await proxy.stop();

  const errors = proxy.store.of("PROXY_PROTOCOL_ERROR");
  for (const port of garbage) {
    const mine = errors.filter((e) => e.context?.client_port === port);
    assertEquals(mine.length, 1, `one protocol error for the client on port ${port}`);
    assertEquals(mine[0]!.kind, "system");
    assertEquals(mine[0]!.client_addr, "127.0.0.1");
    assert(mine[0]!.error!.includes(`127.0.0.1:${port}`), mine[0]!.error);
  }
  const sessions = new Set(proxy.store.of("CONNECT").map((e) => e.session_id));
  for (const sid of sessions) {
    assertEquals(proxy.store.of("DISCONNECT", sid).length, 1, `session ${sid} ended once`);
  }
  assertEquals(
    proxy.store.of("SELECT").filter((e) => e.statement === "SELECT 'still here'").length,
    1,
  );
});
