/**
 * Export and retention inside `vigil serve`: a directory target on a short interval receives
 * the Parquet files of what the WAL source stored, and with `retain_local` the oldest sealed
 * segments go once exported — a `RETENTION_DELETE` event in the chain — while `vigil verify`
 * still passes on what is left.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { withPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(".parquet")) out.push(`${d}/${e.name}`);
    }
  };
  await walk(dir).catch(() => {});
  return out;
}

Deno.test("vigil serve exports on its interval and retains only what is exported", async () => {
  await withPostgres(async (pg) => {
    await pg.sql("CREATE TABLE ledger (id serial PRIMARY KEY, amount int)");
    await withTempDir(async (dir) => {
      const data = `${dir}/data`;
      const archive = `${dir}/archive`;
      const file = `${dir}/vigil.toml`;
      await Deno.writeTextFile(
        file,
        [
          `data_dir = "${data}"`,
          "[web]",
          'listen = "127.0.0.1:0"',
          "[store]",
          'checkpoint_interval = "1s"',
          'max_segment_age = "1s"',
          'retain_local = "1s"',
          "[[sources]]",
          'name = "billing"',
          'type = "wal"',
          `dsn = "${pg.dsn()}"`,
          'slot = "vigil_billing"',
          'publication = "vigil_billing"',
          "[[exports]]",
          'name = "archive"',
          'type = "dir"',
          `path = "${archive}"`,
          'interval = "1s"',
          "",
        ].join("\n"),
      );
      const child = spawnVigil(["serve", "--config", file]);
      await child.stdin.close();
      const stderr = child.stderr.pipeThrough(new TextDecoderStream());
      let log = "";
      const reading = (async () => {
        for await (const chunk of stderr) log += chunk;
      })();
      const stdout = child.stdout.cancel();
      let exited = false;
      const status = child.status.finally(() => (exited = true));
      try {
        // Traffic across several segment rolls, until retention has deleted something.
        let rows = 0;
        await assertEventually(async () => {
          assert(!exited, `serve exited:\n${log}`);
          await pg.sql("INSERT INTO ledger (amount) SELECT g FROM generate_series(1, 20) g");
          rows += 20;
          const q = await runVigil(["query", "--data", data, "--command", "RETENTION_DELETE"]);
          return q.stdout.includes("RETENTION_DELETE");
        }, { timeoutMs: 90_000, intervalMs: 300, message: `retention deleted a segment\n${log}` });
        assert(rows > 0);
        assert((await parquetFiles(archive)).length > 0, "Parquet files in the archive");
        child.kill("SIGTERM");
        assertEquals((await status).code, 0, log);
      } finally {
        if (!exited) child.kill("SIGKILL");
        await status;
        await reading;
        await stdout;
      }
      const verify = await runVigil(["verify", "--data", data]);
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
    });
  });
});
