/**
 * Local retention follows a reload: a `vigil serve` started without `retain_local` deletes
 * nothing, and once `managed.toml` sets it (as the web UI does) and the daemon reloads (SIGHUP,
 * the same reload the UI triggers), the next passes delete exported segments — without a
 * restart — the search index drops the rows of the deleted events, and `vigil verify` still
 * passes.
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

async function retentionDeletes(data: string): Promise<boolean> {
  const q = await runVigil(["query", "--data", data, "--command", "RETENTION_DELETE"]);
  return q.stdout.includes("RETENTION_DELETE");
}

/** Whether the search index holds no row below the log's retained start (and there is one). */
async function indexFollowsRetention(data: string): Promise<boolean> {
  const start = JSON.parse(await Deno.readTextFile(`${data}/retained.json`)).from_seq as number;
  const db = new DatabaseSync(`${data}/index.sqlite`, { readOnly: true });
  try {
    return start > 0 && db.prepare("SELECT min(seq) AS m FROM events").get()?.m as number >= start;
  } finally {
    db.close();
  }
}

/** Whether an export run has written anything under `dir`. */
function archived(dir: string): boolean {
  const walk = (d: string): boolean => {
    try {
      return [...Deno.readDirSync(d)].some((e) =>
        e.isDirectory ? walk(`${d}/${e.name}`) : e.name.endsWith(".parquet")
      );
    } catch {
      return false;
    }
  };
  return walk(dir);
}

Deno.test("vigil serve applies a retain_local set in managed.toml on reload", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
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
        "[[exports]]",
        'name = "archive"',
        'type = "dir"',
        `path = "${dir}/archive"`,
        'interval = "1s"',
        "",
      ].join("\n"),
    );
    const child = spawnVigil(["serve", "--config", file]);
    await child.stdin.close();
    let log = "";
    const reading = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    const stdout = child.stdout.cancel();
    let exited = false;
    const status = child.status.finally(() => (exited = true));
    // Each reload stores a DAEMON_RELOAD event, so segments keep rolling by age.
    const reloads = async (until: () => boolean): Promise<void> => {
      while (!until()) {
        child.kill("SIGHUP");
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    try {
      await assertEventually(() => log.includes('"vigil serving"'), {
        timeoutMs: 30_000,
        message: `serve starts\n${log}`,
      });
      // Segments exported, and several passes later nothing deleted.
      let exported = 0;
      await reloads(() => {
        exported = exported > 0 ? exported + 1 : archived(`${dir}/archive`) ? 1 : 0;
        return exited || exported > 8;
      });
      assert(!exited, `serve exited:\n${log}`);
      assertEquals(await retentionDeletes(data), false);

      await Deno.writeTextFile(`${data}/managed.toml`, '[store]\nretain_local = "1s"\n');
      let deleted = false;
      const deleting = reloads(() => exited || deleted);
      await assertEventually(async () => {
        assert(!exited, `serve exited:\n${log}`);
        return (deleted = await retentionDeletes(data));
      }, { timeoutMs: 60_000, intervalMs: 300, message: `retention deleted a segment\n${log}` })
        .finally(() => (deleted = true));
      await deleting;
      await assertEventually(() => indexFollowsRetention(data), {
        timeoutMs: 30_000,
        message: `the index dropped the rows of deleted events\n${log}`,
      });
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
