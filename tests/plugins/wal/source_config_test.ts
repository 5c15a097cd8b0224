/**
 * The WAL source's configuration and its place in the plugin registry: bad values are refused
 * with a TypeError naming the key before anything connects, defaults are filled in, and a
 * `[[sources]]` table of type "wal" is found by its type. Also what `run()` does when there is
 * no server to talk to: a connect-stage error naming the server, or a prompt stop on abort.
 */

import { SourceError } from "../../../daemon/source.ts";
import { SOURCE_PLUGINS, sourcePlugin } from "../../../plugins/mod.ts";
import { checkWalConfig, WAL_DEFAULTS, WAL_PLUGIN, walSource } from "../../../plugins/wal/mod.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { MemoryStore, startRun } from "./_source_harness.ts";
import { startPostgres } from "../../support/postgres.ts";

const GOOD = { dsn: "postgres://vigil@db1:5432/billing", slot: "vigil_billing", publication: "p" };

Deno.test("checkWalConfig() fills in the defaults", () => {
  assertEquals(checkWalConfig(GOOD), { ...GOOD, ...WAL_DEFAULTS });
  assertEquals(checkWalConfig({ ...GOOD, batchMaxEvents: 10 }).batchMaxEvents, 10);
  // The heartbeat timeout follows the interval unless set; 0 turns heartbeats off.
  const fast = checkWalConfig({ ...GOOD, heartbeatIntervalMs: 200 });
  assertEquals([fast.heartbeatIntervalMs, fast.heartbeatTimeoutMs], [200, 600]);
  assertEquals(checkWalConfig({ ...GOOD, heartbeatIntervalMs: 0 }).heartbeatTimeoutMs, 30_000);
  assertEquals(checkWalConfig({ ...GOOD, heartbeatTimeoutMs: 5 }).heartbeatTimeoutMs, 5);
});

Deno.test("checkWalConfig() refuses bad values with a TypeError naming the key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...GOOD, dsn: undefined }, `"dsn"`],
    [{ ...GOOD, dsn: "mysql://x@y/z" }, `"dsn"`],
    [{ ...GOOD, dsn: "postgres://u:secret@h/db?bogus=1" }, `"dsn"`],
    [{ ...GOOD, slot: "Vigil-Billing" }, `"slot"`],
    [{ ...GOOD, slot: 7 }, `"slot"`],
    [{ ...GOOD, publication: "" }, `"publication"`],
    [{ ...GOOD, publication: "p".repeat(64) }, `"publication"`],
    [{ ...GOOD, batchMaxEvents: 0 }, `"batchMaxEvents"`],
    [{ ...GOOD, flushIntervalMs: 1.5 }, `"flushIntervalMs"`],
    [{ ...GOOD, heartbeatTimeoutMs: 0 }, `"heartbeatTimeoutMs"`],
    [{ ...GOOD, storeHeartbeats: "yes" }, `"storeHeartbeats"`],
  ];
  for (const [config, key] of cases) {
    const error = assertThrows(
      () => checkWalConfig(config as unknown as Parameters<typeof checkWalConfig>[0]),
      TypeError,
    );
    assert(error.message.includes(key), `${error.message} names ${key}`);
    assert(!error.message.includes("secret"), `${error.message} hides the password`);
  }
});

Deno.test("WAL_PLUGIN reads a [[sources]] table, naming keys as the file spells them", () => {
  const table = { name: "billing", type: "wal", ...GOOD, batch_max_events: 500 };
  WAL_PLUGIN.validate(table);
  assert(typeof WAL_PLUGIN.create(table).run === "function");
  const unknown = assertThrows(() => WAL_PLUGIN.validate({ ...table, slots: "x" }), TypeError);
  assertEquals(unknown.message.startsWith(`Unknown key "slots" in WAL source "billing"`), true);
  assertThrows(() => WAL_PLUGIN.validate({ ...table, constructor: 1 }), TypeError);
  const type = assertThrows(() => WAL_PLUGIN.validate({ ...table, type: "pgaudit" }), TypeError);
  assert(type.message.includes(`"type" in WAL source "billing"`), type.message);
  const bad = assertThrows(
    () => WAL_PLUGIN.validate({ ...table, batch_max_events: -1 }),
    TypeError,
  );
  assert(bad.message.includes(`"batch_max_events" in WAL source "billing"`), bad.message);
});

Deno.test("sourcePlugin() finds the wal plugin in the explicit list and refuses unknown types", () => {
  assert(SOURCE_PLUGINS.map((p) => p.type).includes("wal"));
  assertEquals(sourcePlugin("wal"), WAL_PLUGIN);
  const error = assertThrows(() => sourcePlugin("oracle"), TypeError);
  assert(error.message.includes(`"wal"`), error.message);
});

Deno.test("walSource().run() rejects with a connect-stage SourceError naming the server", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close(); // Nobody listens there now.
  const source = walSource({ ...GOOD, dsn: `postgres://vigil@127.0.0.1:${port}/billing` });
  const running = startRun(source, (signal) => new MemoryStore().context("billing", signal));
  await running.done;
  const error = running.result();
  assert(error instanceof SourceError, `expected a SourceError, got ${error}`);
  assertEquals(error.stage, "connect");
  assert(error.message.includes(`127.0.0.1:${port}`), error.message);
  assert(error.message.includes(`slot "vigil_billing"`), error.message);
});

Deno.test("walSource().run() stops at once when aborted while the server does not answer", async () => {
  // A server that accepts the connection and then says nothing: login would wait 10 s.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const dsn = `postgres://vigil@127.0.0.1:${listener.addr.port}/billing`;
    const running = startRun(
      walSource({ ...GOOD, dsn }),
      (signal) => new MemoryStore().context("billing", signal),
    );
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await running.stop();
    assert(Date.now() - started < 1000, `stopped after ${Date.now() - started} ms`);
    assertEquals(running.result(), "ok");
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) {
      try {
        conn.close();
      } catch { /* closed by the client */ }
    }
  }
});

Deno.test("password_file: the password comes from a file or a systemd credential", async () => {
  await using pg = await startPostgres({ passwordAuth: true, password: "s3cret:/@x" });
  const dir = await Deno.makeTempDir({ prefix: "vigil-cred-" });
  const saved = Deno.env.get("CREDENTIALS_DIRECTORY");
  try {
    await Deno.writeTextFile(`${dir}/pg-password`, `${pg.password}\n`);
    const table = {
      name: "billing",
      type: "wal",
      dsn: `postgres://${pg.superuser}@127.0.0.1:${pg.port}/postgres`,
      slot: "vigil_cred",
      publication: "vigil_cred",
      password_file: "pg-password",
    };
    // A credential name needs systemd's directory.
    Deno.env.delete("CREDENTIALS_DIRECTORY");
    const noDir = assertThrows(() => WAL_PLUGIN.validate(table), TypeError);
    assert(noDir.message.includes("CREDENTIALS_DIRECTORY"), noDir.message);
    Deno.env.set("CREDENTIALS_DIRECTORY", dir);
    const missing = assertThrows(
      () => WAL_PLUGIN.validate({ ...table, password_file: "nope" }),
      TypeError,
    );
    assert(missing.message.startsWith(`Bad "password_file" in WAL source "billing"`));
    const withPassword = assertThrows(
      () => WAL_PLUGIN.validate({ ...table, dsn: table.dsn.replace("@", ":x@") }),
      TypeError,
    );
    assert(withPassword.message.includes("has a password already"), withPassword.message);

    // The real server takes the password (SCRAM), and the source stores a change.
    await pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
    const store = new MemoryStore();
    const running = startRun(WAL_PLUGIN.create(table), (signal) => store.context("b", signal));
    // The slot starts at its creation: a change made before the source streams is not its own.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && running.result() === undefined) {
      const active = await pg.sql(
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'vigil_cred'",
      );
      if (active.trim() === "t") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await pg.sql("INSERT INTO t VALUES (1)");
    while (!store.events.some((e) => e.kind === "row_change") && Date.now() < deadline) {
      if (running.result() !== undefined) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await running.stop();
    assertEquals(running.result(), "ok");
    assertEquals(store.events.filter((e) => e.kind === "row_change").length, 1);
    // Absolute paths are read as they are.
    WAL_PLUGIN.validate({ ...table, password_file: `${dir}/pg-password` });
  } finally {
    if (saved === undefined) Deno.env.delete("CREDENTIALS_DIRECTORY");
    else Deno.env.set("CREDENTIALS_DIRECTORY", saved);
    await Deno.remove(dir, { recursive: true });
  }
});
