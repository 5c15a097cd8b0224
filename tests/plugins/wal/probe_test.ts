/**
 * "Test connection" of a WAL source against a real PostgreSQL 15 with password logins: what it
 * reports for a ready server, a role without REPLICATION, a missing and an existing slot and
 * publication, TLS, a closed port and a server that never answers.
 */

import { probeWal } from "../../../plugins/wal/probe.ts";
import { sourcePlugin } from "../../../plugins/mod.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { enableTls } from "../../support/pg_tls.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

/** A WAL table for `user` on the cluster, its password in a file as the UI stores it. */
async function walTable(
  pg: PgCluster,
  dir: string,
  opts: { user?: string; password?: string; query?: string } = {},
): Promise<Record<string, unknown>> {
  const url = new URL(pg.dsn());
  url.username = opts.user ?? pg.superuser;
  url.password = "";
  const passwordFile = `${dir}/${url.username}.password`;
  await Deno.writeTextFile(passwordFile, `${opts.password ?? pg.password}\n`);
  return {
    name: "billing",
    type: "wal",
    dsn: `${url.toString()}${opts.query ?? ""}`,
    slot: "vigil_probe",
    publication: "vigil_probe",
    password_file: passwordFile,
  };
}

Deno.test("probeWal() reports version, wal_level, rights, slot, publication, TLS", async (t) => {
  await using pg = await startPostgres({ passwordAuth: true });
  await withTempDir(async (dir) => {
    await t.step(
      "a ready server and a superuser: ok, slot and publication to be created",
      async () => {
        const r = await sourcePlugin("wal").probe(await walTable(pg, dir));
        assert(r.ok, r.lines.join("\n"));
        const text = r.lines.join("\n");
        for (
          const line of [
            "wal_level: logical",
            `role ${pg.superuser} may replicate`,
            "TLS: not in use (sslmode=disable)",
            "slot vigil_probe: missing; the source creates it on start",
            "publication vigil_probe: missing",
            "replication connection: system ",
          ]
        ) assert(text.includes(line), `${line}\n---\n${text}`);
        assert(/^PostgreSQL 15\./m.test(text), text);
        assert(!text.includes(pg.password), "the password leaked");
      },
    );

    await t.step("an existing slot and publication are found; nothing is created", async () => {
      await pg.sql(
        "SELECT pg_create_logical_replication_slot('vigil_probe', 'pgoutput');" +
          "CREATE PUBLICATION vigil_probe FOR ALL TABLES;",
      );
      const r = await probeWal(await walTable(pg, dir));
      assert(r.ok, r.lines.join("\n"));
      assert(r.lines.includes("slot vigil_probe: exists"), r.lines.join("\n"));
      assert(r.lines.includes("publication vigil_probe: exists"), r.lines.join("\n"));
      const slots = await pg.sql("SELECT count(*) FROM pg_replication_slots");
      assertEquals(slots.trim(), "1");
    });

    await t.step("a role without REPLICATION fails the probe", async () => {
      await pg.sql("CREATE ROLE plain LOGIN PASSWORD 'plain-pw'");
      const r = await probeWal(await walTable(pg, dir, { user: "plain", password: "plain-pw" }));
      assertEquals(r.ok, false);
      assert(r.lines.some((l) => l.includes("lacks REPLICATION")), r.lines.join("\n"));
    });

    await t.step("a wrong password fails at login", async () => {
      const r = await probeWal(await walTable(pg, dir, { password: "wrong" }));
      assertEquals(r.ok, false);
      assert(r.lines.some((l) => l.startsWith("failed: ")), r.lines.join("\n"));
      assert(!r.lines.join("\n").includes("wrong"));
    });

    await t.step("sslmode=verify-full with the server's CA: TLS in use", async () => {
      const ca = await enableTls(pg);
      const query = `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
      const r = await probeWal(await walTable(pg, dir, { query }));
      assert(r.ok, r.lines.join("\n"));
      assert(r.lines.includes("TLS: in use (sslmode=verify-full)"), r.lines.join("\n"));
    });
  });
});

/** A listener on 127.0.0.1 that treats each connection with `serve`; its port and a stop. */
function listener(serve: (conn: Deno.Conn) => Promise<void>): {
  port: number;
  stop(): Promise<void>;
} {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of l) {
      conns.push(conn);
      served.push(serve(conn).catch(() => {}));
    }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    stop: async () => {
      l.close();
      await accepting.catch(() => {});
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by its server */ }
      }
      await Promise.all(served);
    },
  };
}

const te = new TextEncoder();

Deno.test("probeWal() tells one port from another by nothing: same line, same moment", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const kinds = {
    silent: listener(async (c) => {
      const buf = new Uint8Array(1024);
      while ((await c.read(buf)) !== null) { /* says nothing, ever */ }
    }),
    ssh: listener(async (c) => void await c.write(te.encode("SSH-2.0-OpenSSH_9.2p1\r\n"))),
    http: listener(async (c) => {
      await c.read(new Uint8Array(1024));
      await c.write(te.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
      c.close();
    }),
    hangup: listener((c) => Promise.resolve(c.close())),
  };
  const windowMs = 1000;
  try {
    const ports = {
      closed: closedPort,
      ...Object.fromEntries(
        Object.entries(kinds).map(([k, v]) => [k, v.port]),
      ),
    };
    const results = await Promise.all(
      Object.entries(ports).map(async ([kind, port]) => {
        const t0 = performance.now();
        const r = await probeWal({
          name: "x",
          type: "wal",
          dsn: `postgres://vigil@127.0.0.1:${port}/db`,
          slot: "s",
          publication: "p",
        }, { connectMs: windowMs });
        const ms = performance.now() - t0;
        return {
          kind,
          ms,
          ok: r.ok,
          lines: r.lines.map((l) => l.replaceAll(String(port), "PORT")),
        };
      }),
    );
    const [first] = results;
    for (const r of results) {
      assertEquals([r.kind, r.ok, r.lines], [r.kind, false, first!.lines]);
      assert(r.ms >= windowMs - 5, `${r.kind} answered after ${r.ms} ms, before the window ended`);
    }
    assertEquals(
      first!.lines.at(-1),
      "failed: cannot connect to 127.0.0.1:PORT: no PostgreSQL server answered",
    );
    const times = results.map((r) => r.ms);
    assert(Math.max(...times) - Math.min(...times) < 500, `answer times ${times.join(", ")}`);
  } finally {
    for (const k of Object.values(kinds)) await k.stop();
  }

  const bad = await probeWal({
    name: "x",
    type: "wal",
    dsn: "postgres://vigil@127.0.0.1:5432/db",
    slot: "Bad-Slot!",
    publication: "p",
  });
  assertEquals(bad.ok, false);
  assert(bad.lines[0]!.startsWith("configuration: "), bad.lines[0]);
});
