/**
 * A full disk answers 503, not 500: the events API and the UI cannot record what they would
 * do, so they refuse it for now (DESIGN.md: "a full disk stops acks (503 on the API)"), and
 * take requests again once there is space. On a real full file system: a small tmpfs (mounting
 * needs root, which CI has).
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { withWorld } from "./_harness.ts";

async function run(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Fills the file system of `dir` to the last byte, in a file that can be removed again. */
async function fill(dir: string): Promise<string> {
  const filler = `${dir}/filler`;
  const f = await Deno.open(filler, { create: true, write: true });
  const block = new Uint8Array(64 * 1024);
  try {
    for (;;) await f.write(block);
  } catch { /* full */ }
  for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
    try {
      for (;;) await f.write(new Uint8Array(n));
    } catch { /* full at this size too */ }
  }
  f.close();
  return filler;
}

Deno.test({
  name: "a full disk gives 503 on the events API and the UI, and they work again with space",
  ignore: Deno.uid() !== 0,
  async fn() {
    const mnt = await Deno.makeTempDir({ prefix: "vigil-web-full-" });
    await run("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt);
    try {
      await withWorld({ parent: mnt }, async (w) => {
        const { token } = w.access.tokens.create("shop", ["ingest"], "admin1");
        const auditor = new Client(w.app);
        await auditor.login("auditor1");
        const post = () =>
          w.app.request("/api/v1/events", {
            method: "POST",
            body: JSON.stringify([{
              kind: "app",
              command: "EXPORT_CSV",
              statement: "x".repeat(9000),
            }]),
            headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          });
        const filler = await fill(mnt);
        try {
          const api = await post();
          assertEquals(api.status, 503);
          assertMatch((await api.json()).error, /could not be stored|cannot record/);
          const page = await auditor.request("/management?from=2025-12-30&to=2026-01-02");
          assertEquals(page.status, 503);
          assertMatch(await page.text(), /disk is full/);
        } finally {
          // Space back before the world closes: its store signs a last checkpoint.
          await Deno.remove(filler);
        }
        assertEquals((await post()).status, 201, "taken again once there is space");
      });
    } finally {
      await run("umount", mnt);
      await Deno.remove(mnt, { recursive: true });
    }
  },
});
