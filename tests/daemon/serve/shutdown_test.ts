/**
 * The order of `Daemon.stop()`: the daemon's last event (DAEMON_STOP) is stored while the parts
 * that follow durable records are still open, and only then are they closed — the way detection
 * and the web UI register their clean-ups with `onStop`. A part closed first would fail on that
 * last record ("a durable-record listener failed: database is not open").
 */

import { DatabaseSync } from "node:sqlite";
import { Hono } from "hono";
import { parseConfig } from "../../../daemon/config/config.ts";
import { Daemon } from "../../../daemon/serve/daemon.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("Daemon.stop() stores DAEMON_STOP before the parts registered with onStop close", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const config = parseConfig(
      `data_dir = "${data}"\n[web]\nlisten = "127.0.0.1:0"\n`,
      `${dir}/vigil.toml`,
      { sources: [] },
    );
    // A part like detection: a database of its own, fed every durable batch, closed at stop.
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE TABLE seen (command TEXT)");
    const missed: string[] = [];
    const daemon = await Daemon.start(config, {
      version: "test",
      sources: () => [],
      reloadConfig: () => Promise.resolve(config),
      web: (parts) => {
        parts.store.onDurable((records) => {
          for (const r of records) {
            if (!db.isOpen) missed.push(r.event.command ?? "");
            else db.prepare("INSERT INTO seen VALUES (?)").run(r.event.command ?? null);
          }
        });
        parts.onStop(() => db.close());
        return new Hono();
      },
    });
    await daemon.stop("test");
    assertEquals(missed, [], "no record came to a closed part");
    const stored: string[] = [];
    for await (const r of readLog(data)) stored.push(r.event.command ?? "");
    assertEquals(stored.at(-1), "DAEMON_STOP");
    assertEquals(db.isOpen, false, "closed at stop");
  });
});
