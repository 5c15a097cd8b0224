/**
 * The proxy source as `vigil serve` runs it from a configuration file, with the command
 * line's narrow permissions: `vigil validate` accepts the table, clients work through the
 * proxy, and after SIGTERM the log holds the sessions — the one still open recorded as ended
 * by the restart.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";
import { RawClient } from "./_client.ts";
import { psql } from "./_harness.ts";
import { freePort } from "../../support/ports.ts";

Deno.test("vigil serve runs a proxy source from its config", async () => {
  await using pg = await startPostgres();
  await withTempDir(async (dir) => {
    const port = freePort();
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(
      file,
      [
        `data_dir = "${dir}/data"`,
        "[web]",
        'listen = "127.0.0.1:0"',
        "[[sources]]",
        'name = "db-proxy"',
        'type = "proxy"',
        `listen = "127.0.0.1:${port}"`,
        `upstream = "postgres://127.0.0.1:${pg.port}/"`,
        'mode = "enforce"',
      ].join("\n") + "\n",
    );
    const valid = await runVigil(["validate", "--config", file]);
    assertEquals(valid.code, 0, valid.stderr);
    const serve = spawnVigil(["serve", "--config", file]);
    let open: RawClient | undefined;
    try {
      // serve is up once the proxy accepts logins.
      for (let i = 0; open === undefined; i++) {
        open = await RawClient.login(port).catch(async (e) => {
          if (i > 600) throw e;
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      const r = await psql(port, ["-c", "SELECT 'through serve'"]);
      assertEquals(r.stdout, "through serve\n", r.stderr);
      serve.kill("SIGTERM");
      assertEquals((await serve.status).code, 0);
    } finally {
      open?.close();
      try {
        serve.kill("SIGKILL");
      } catch { /* already ended */ }
      await serve.output().catch(() => {});
    }
    const events: AuditEvent[] = [];
    for await (const rec of readLog(`${dir}/data`)) {
      if (rec.event.source === "db-proxy") events.push(rec.event);
    }
    assert(events.some((e) => e.statement === "SELECT 'through serve'"), "the statement is stored");
    // Sessions in the order they connected: the raw client, still open at SIGTERM, then psql.
    const sessions = events.filter((e) => e.command === "CONNECT").map((e) => e.session_id);
    const reason = (id: string | undefined) =>
      events.find((e) => e.command === "DISCONNECT" && e.session_id === id)?.context?.reason;
    assertEquals(sessions.length, 2);
    assertEquals(reason(sessions[0]), "restart");
    // psql's end may still be on its way through the proxy when the stop overtakes it (the
    // client-ended reason itself is checked in simple_test.ts).
    assert(
      ["client", "restart"].includes(String(reason(sessions[1]))),
      String(reason(sessions[1])),
    );
  });
});
