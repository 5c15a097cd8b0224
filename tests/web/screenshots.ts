/**
 * Takes a screenshot of each view — sign-in, Operator, Events, an event, Management, the evidence
 * pack, Administration — in real Chromium against the test world, into a directory given on
 * the command line (the README's images live in `docs/`):
 *
 * ```sh
 * deno run --allow-all tests/web/screenshots.ts docs/screenshots
 * ```
 */

import { startBrowser } from "./_browser.ts";
import { openWorld, PASSWORD } from "./_harness.ts";
import { STATUS_NOW } from "./_status.ts";

const VIEWS: [string, string][] = [
  ["operator", "/operator"],
  ["events", "/events?source=billing"],
  ["event", "/events/120"],
  ["management", "/management?from=2025-12-30&to=2026-01-02"],
  ["evidence", "/management/evidence?from=2025-12-30&to=2026-01-02"],
  ["admin", "/admin"],
];

/** Writes `<name>.png` for each view into `outDir`; returns the files written. */
export async function takeScreenshots(outDir: string): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const world = await openWorld({
    // The pages' clock agrees with the fixed status snapshot, so ages read as they would live.
    now: () => STATUS_NOW + 5_000,
    config: {
      data_dir: "/var/lib/vigil",
      web: { listen: "127.0.0.1:8443" },
      sources: [{ name: "billing", type: "wal", dsn: "postgres://vigil@db1:5432/billing" }],
    },
  });
  const files: string[] = [];
  try {
    const run = await startBrowser((req, info) => world.app.fetch(req, info));
    try {
      const page = await run.context.newPage();
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${run.base}/login`);
      await page.screenshot({ path: `${outDir}/login.png` });
      files.push(`${outDir}/login.png`);
      await page.fill('input[name="name"]', "admin1");
      await page.fill('input[name="password"]', PASSWORD);
      await page.click('button:has-text("Sign in")');
      await page.waitForLoadState();
      for (const [name, path] of VIEWS) {
        await page.goto(`${run.base}${path}`);
        const file = `${outDir}/${name}.png`;
        await page.screenshot({ path: file, fullPage: true });
        files.push(file);
      }
    } finally {
      await run.close();
    }
  } finally {
    await world.close();
  }
  return files;
}

if (import.meta.main) {
  const out = Deno.args[0];
  if (!out) {
    console.error("usage: deno run --allow-all tests/web/screenshots.ts OUT_DIR");
    Deno.exit(2);
  }
  for (const f of await takeScreenshots(out)) console.log(f);
}
