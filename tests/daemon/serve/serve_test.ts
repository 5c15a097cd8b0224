/**
 * `vigil serve` as an admin runs it: a real process with the `vigil` task's permissions, a WAL
 * source on the harness's PostgreSQL and one pointed at a closed port. The broken source is
 * restarted with backoff while the good one keeps collecting — over TLS verified against a CA
 * made in the test (`sslmode=verify-full`); `/healthz` and `/metrics` say
 * so; SIGHUP applies a fixed config and refuses a broken one; SIGTERM stops cleanly with a
 * final checkpoint that covers every stored event.
 */

import { DDL_TRIGGERS } from "../../../daemon/pg/install_sql.ts";
import { installPgSide } from "../../../daemon/pg/install.ts";
import { readCheckpoints } from "../../../daemon/store/checkpoint.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { enableTls } from "../../support/pg_tls.ts";
import { withPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { streamLines } from "../../support/serve_child.ts";

/** A TCP port on loopback that nothing listens on. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function config(data: string, sources: string[]): string {
  return [`data_dir = "${data}"`, "", "[web]", 'listen = "127.0.0.1:0"', "", ...sources].join(
    "\n",
  );
}

function walTable(name: string, dsn: string): string {
  return [
    "[[sources]]",
    `name = "${name}"`,
    'type = "wal"',
    `dsn = "${dsn}"`,
    `slot = "vigil_${name}"`,
    `publication = "vigil_${name}"`,
    "heartbeat_interval_ms = 200",
    "",
  ].join("\n");
}

/** Waits until `check` passes (returns without throwing); fails with its last error. */
async function until(check: () => unknown, message: string, timeoutMs = 30_000): Promise<void> {
  let last: unknown;
  await assertEventually(async () => {
    try {
      await check();
      return true;
    } catch (error) {
      last = error;
      return false;
    }
  }, { timeoutMs, message: `${message} (${last})`, intervalMs: 100 }).catch((e) => {
    throw new Error(`${message}: ${last instanceof Error ? last.message : last}`, { cause: e });
  });
}

interface Health {
  status: string;
  store: { events: number; healthy: boolean };
  sources: { name: string; state: string; healthy: boolean; restarts: number; events: number }[];
}

Deno.test("vigil serve supervises sources, reports health and stops cleanly", async () => {
  await withPostgres(async (pg) => {
    await pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, owner text)");
    const ca = await enableTls(pg);
    await installPgSide(pg.dsn());
    await withTempDir(async (dir) => {
      const data = `${dir}/data`;
      const file = `${dir}/vigil.toml`;
      const tlsDsn = `${pg.dsn()}?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
      const good = walTable("billing", tlsDsn);
      const bad = walTable("crm", `postgres://postgres@127.0.0.1:${closedPort()}/postgres`);
      await Deno.writeTextFile(file, config(data, [good, bad]));
      assertEquals((await runVigil(["validate", "--config", file])).code, 0);

      const child = spawnVigil(["serve", "--config", file]);
      await child.stdin.close();
      const err = streamLines(child.stderr);
      const out = streamLines(child.stdout);
      let exited = false;
      const status = child.status.finally(() => (exited = true));
      try {
        let serving = { listen: "" };
        await until(() => {
          assert(!exited, `serve exited:\n${err.lines.join("\n")}`);
          const line = err.lines.find((l) => l.includes('"vigil serving"'));
          assert(line !== undefined, "no 'vigil serving' line yet");
          serving = JSON.parse(line);
        }, "serve starts");
        const base = `http://${serving.listen}`;
        const health = async (): Promise<[number, Health]> => {
          const r = await fetch(`${base}/healthz`);
          return [r.status, await r.json() as Health];
        };

        // The broken source backs off and restarts; the good one runs; health says degraded.
        await until(async () => {
          const [code, h] = await health();
          const crm = h.sources.find((s) => s.name === "crm")!;
          const billing = h.sources.find((s) => s.name === "billing")!;
          assertEquals([code, h.status], [503, "degraded"]);
          assert(crm.restarts >= 2 && !crm.healthy, JSON.stringify(crm));
          assert(billing.healthy && billing.state === "running", JSON.stringify(billing));
        }, "one source failing, the other healthy");

        await pg.sql(
          "INSERT INTO accounts SELECT g, 'owner ' || g FROM generate_series(1, 50) g; " +
            "UPDATE accounts SET owner = 'changed' WHERE id <= 10",
        );
        // `query` reads the store while serve writes it.
        await until(async () => {
          const q = await runVigil([
            "query",
            "--data",
            data,
            "--source",
            "billing",
            "--limit",
            "1000000",
          ]);
          assertEquals(q.code, 0, q.stderr);
          const kinds = q.stdout.trim().split("\n").filter((l) => l !== "").map((l) =>
            JSON.parse(l).kind
          );
          assertEquals(kinds.filter((k) => k === "row_change").length, 60);
        }, "60 row changes stored");

        // Every session of the source (the walsender, the heartbeat, the configuration
        // read-back) is encrypted.
        const ssl = await pg.sql(
          "SELECT a.backend_type, s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) " +
            "WHERE a.application_name LIKE 'vigil%' ORDER BY 1",
        );
        assertEquals(ssl.split("\n").map((l) => l.split("|")[1]), ["t", "t", "t"], ssl);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assertMatch(metrics, /^vigil_source_events_total\{source="billing"\} (\d+)$/m);
        const events = Number(
          /^vigil_source_events_total\{source="billing"\} (\d+)$/m.exec(
            metrics,
          )![1],
        );
        assert(events >= 60, `billing events ${events}`);
        assertMatch(metrics, /^vigil_source_lag_bytes\{source="billing"\} \d+$/m);
        assertMatch(metrics, /^vigil_source_up\{source="crm"\} 0$/m);
        assertMatch(metrics, /^vigil_store_commit_seconds\{quantile="0.99"\} [\d.e-]+$/m);
        assertMatch(metrics, /^vigil_up 0$/m);

        // Disabling pg-install's event trigger is seen by the source's watchdog, stored as a
        // system event, and raised as an alert by the detector running inside serve.
        await pg.sql(`ALTER EVENT TRIGGER ${DDL_TRIGGERS[0]} DISABLE`);
        await until(async () => {
          const q = await runVigil(["query", "--data", data, "--kind", "system"]);
          assert(q.stdout.includes("WAL_DDL_TRIGGER_MISSING"), "no alarm yet");
        }, "the missing trigger is stored");

        // A broken config is refused whole on SIGHUP; the daemon keeps running as it was.
        await Deno.writeTextFile(file, config(data, [good, "[[sources]]\nname = 1\n"]));
        child.kill("SIGHUP");
        await until(
          () => assert(err.lines.some((l) => l.includes("reload refused")), "not refused yet"),
          "reload refused",
        );
        assertEquals((await health())[1].sources.length, 2);

        // The fixed config drops the broken source: healthy again.
        await Deno.writeTextFile(file, config(data, [good]));
        child.kill("SIGHUP");
        await until(async () => {
          const [code, h] = await health();
          assertEquals([code, h.sources.map((s) => s.name)], [200, ["billing"]]);
        }, "healthy after reload");

        child.kill("SIGTERM");
        assertEquals((await status).code, 0, err.lines.join("\n"));
      } finally {
        if (!exited) child.kill("SIGKILL");
        await status;
        await err.done;
        await out.done;
      }

      // Start, reload and stop are in the chain, and the final checkpoint covers everything.
      const q = await runVigil([
        "query",
        "--data",
        data,
        "--source",
        "vigil",
        "--limit",
        "1000000",
      ]);
      const commands = q.stdout.trim().split("\n").map((l) => JSON.parse(l).command);
      // The store's own checks (STORE_VERIFIED, at start and daily) come when they finish.
      assertEquals(commands.filter((c) => !c.startsWith("STORE_")), [
        "DAEMON_START",
        "DAEMON_RELOAD",
        "DAEMON_STOP",
      ]);
      assert(!commands.includes("STORE_DAMAGED"), q.stdout);
      const all = await runVigil(["query", "--data", data, "--limit", "1000000"]);
      const size = all.stdout.trim().split("\n").length;
      const cps = await readCheckpoints(`${data}/checkpoints.jsonl`);
      assertEquals(cps.checkpoints.at(-1)?.size, size, "final checkpoint covers the log");
      const alerts = await runVigil(["alerts", "--data", data]);
      assertEquals(alerts.code, 0, alerts.stderr);
      const tamper = alerts.stdout.trim().split("\n").map((l) => JSON.parse(l))
        .filter((a) => a.rule === "audit_tampering");
      assertEquals(tamper.length, 1, alerts.stdout);
      assertMatch(tamper[0].reason, /WAL_DDL_TRIGGER_MISSING/);
      const verify = await runVigil(["verify", "--data", data]);
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
    });
  });
});
