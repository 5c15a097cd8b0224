/**
 * `vigil serve` handles its signals from the moment it starts opening the store: a SIGHUP that
 * comes while it starts (a reload right after `systemctl start`, or a script that reloads as
 * soon as it reads the first log line) neither kills it nor is lost in a half-started daemon,
 * and a SIGTERM then stops it cleanly.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { spawnVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";
import { streamLines } from "../../support/serve_child.ts";

Deno.test("vigil serve survives a SIGHUP during its start, reloads after it, stops on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(file, `data_dir = "${dir}/data"\n\n[web]\nlisten = "127.0.0.1:0"\n`);
    const child = spawnVigil(["serve", "--config", file]);
    await child.stdin.close();
    const err = streamLines(child.stderr);
    const out = streamLines(child.stdout);
    let exited = false;
    const status = child.status.finally(() => (exited = true));
    const seen = (pattern: RegExp) => (): boolean => {
      if (exited) throw new Error(`vigil serve ended:\n${err.lines.join("\n")}`);
      return err.lines.some((l) => pattern.test(l));
    };
    try {
      // The first line comes from opening the store, before "vigil serving".
      await assertEventually(() => exited || err.lines.length > 0, { timeoutMs: 30_000 });
      child.kill("SIGHUP");
      await assertEventually(seen(/"msg":"vigil serving"/), { timeoutMs: 30_000 });
      child.kill("SIGHUP");
      await assertEventually(seen(/"msg":"configuration reloaded"/), { timeoutMs: 30_000 });
      child.kill("SIGTERM");
      const s = await status;
      assertEquals([s.code, s.signal], [0, null], err.lines.join("\n"));
      assert(err.lines.some((l) => /"msg":"vigil stopping"/.test(l)), err.lines.join("\n"));
    } finally {
      if (!exited) child.kill("SIGKILL");
      await status;
      await Promise.all([err.done, out.done]);
    }
  });
});
