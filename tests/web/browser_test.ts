/**
 * What a person sees, in real Chromium: signing in per role, the Operator page with its charts,
 * acknowledging an alert, searching with a filter and full text, an event whose statement
 * carries markup, script and a bidi override (shown as text, nothing runs), downloads of the
 * public key, an evidence pack and a bundle (checked by `vigil verify-bundle`), refusals by
 * role, signing out, and the lock-out.
 */

import type { Page } from "playwright-core";
import { publicKeyPem, readPublicKey } from "../../daemon/store/keys.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { runVigil } from "../support/cli.ts";
import { startBrowser } from "./_browser.ts";
import { PASSWORD, withWorld, type World } from "./_harness.ts";

const BROWSER_TEST = { sanitizeResources: false, sanitizeOps: false };

/** Collects what must never happen on a page: dialogs (script ran) and CSP violations. */
function watch(page: Page): { dialogs: string[]; csp: string[] } {
  const seen = { dialogs: [] as string[], csp: [] as string[] };
  page.on("dialog", (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) seen.csp.push(m.text());
  });
  return seen;
}

async function signIn(page: Page, base: string, name: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="password"]', password);
  await page.click('button:has-text("Sign in")');
  await page.waitForLoadState();
}

/** Extracts a downloaded bundle tar with the system `tar` and runs `vigil verify-bundle`. */
async function verifyDownloadedBundle(file: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-browser-bundle-" });
  try {
    const x = await new Deno.Command("tar", { args: ["-x", "-f", file, "-C", dir] }).output();
    assertEquals(x.code, 0, new TextDecoder().decode(x.stderr));
    await Deno.stat(`${dir}/manifest.json`);
    const r = await runVigil(["verify-bundle", dir]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withBrowser(
  w: World,
  fn: (page: Page, base: string) => Promise<void>,
): Promise<void> {
  const run = await startBrowser((req, info) => w.app.fetch(req, info));
  try {
    const page = await run.context.newPage();
    await fn(page, run.base);
  } finally {
    await run.close();
  }
}

Deno.test({
  name:
    "an admin signs in, reviews health, acknowledges, searches, reads a hostile event, downloads the key, signs out",
  ...BROWSER_TEST,
  fn: async () => {
    await withWorld({}, async (w) => {
      await withBrowser(w, async (page, base) => {
        const seen = watch(page);
        await signIn(page, base, "admin1");
        assertEquals(new URL(page.url()).pathname, "/operator");
        assertEquals(await page.textContent("#daemon-health"), "unhealthy");
        assert(await page.isVisible('svg.chart[data-source="billing"] polyline.line'));
        const box = await page.locator('svg.chart[data-source="billing"]').boundingBox();
        assert(box !== null && box.width > 100, "the chart is laid out");

        await page.fill('tr[data-alert="1"] input[name="note"]', "looked at it");
        await page.click('tr[data-alert="1"] button:has-text("Acknowledge")');
        await page.waitForLoadState();
        assertStringIncludes(await page.textContent("main") ?? "", "No open alerts.");
        assertEquals(w.alerts.get(1)?.ack?.by, "admin1");
        assertEquals(w.alerts.get(1)?.ack?.note, "looked at it");

        await page.click('nav a:has-text("Events")');
        await page.fill('input[name="role"]', "mallory");
        await page.fill('input[name="text"]', "alert script");
        await page.click('button:has-text("Search")');
        await page.waitForLoadState();
        const rows = page.locator("table.events tbody tr");
        assertEquals(await rows.count(), 1);
        assertStringIncludes(await rows.first().innerText(), "<script>alert(1)</script>");

        await page.click('table.events a:has-text("120")');
        await page.waitForLoadState();
        const stmt = await page.locator("dd.stmt").first().innerText();
        assertStringIncludes(stmt, "<script>alert(1)</script><img src=x onerror=alert(2)>");
        assertEquals(await page.locator("main script, main img").count(), 0);
        assertStringIncludes(await page.innerText("#proof"), "Verified");

        await page.goto(`${base}/events/121`);
        const bidi = await page.locator("dd.stmt").first().innerText();
        assertEquals(bidi, "SELECT 1 /* \\u202Eevil\\u202C */ FROM accounts");
        assert(!(await page.content()).includes("\u202E"), "no live override in the page");

        await page.click('nav a:has-text("Administration")');
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.click('a:has-text("Download the public key")'),
        ]);
        const pem = await Deno.readTextFile((await download.path())!);
        assertEquals(pem, publicKeyPem(await readPublicKey(`${w.dir}/keys`)));

        await page.click('button:has-text("Sign out")');
        await page.waitForLoadState();
        assertEquals(new URL(page.url()).pathname, "/login");
        await page.goto(`${base}/events`);
        assertEquals(new URL(page.url()).pathname, "/login", "signed out for real");
        assertEquals(seen.dialogs, [], "no script ran");
        assertEquals(seen.csp, [], "no page breaks its CSP");
      });
    });
  },
});

Deno.test({
  name: "an auditor downloads an evidence pack and a bundle; an operator is refused the events",
  ...BROWSER_TEST,
  fn: async () => {
    await withWorld({}, async (w) => {
      await withBrowser(w, async (page, base) => {
        const seen = watch(page);
        await signIn(page, base, "auditor1");
        assertEquals(new URL(page.url()).pathname, "/management");
        assertEquals(await page.locator('nav a:has-text("Administration")').count(), 0);
        await page.fill('form[action="/management/evidence"] input[name="from"]', "2025-12-30");
        await page.fill('form[action="/management/evidence"] input[name="to"]', "2026-01-02");
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.click('button:has-text("JSON")'),
        ]);
        const pack = JSON.parse(await Deno.readTextFile((await download.path())!));
        assertEquals(pack.gaps[0].command, "WAL_GAP");
        assertEquals(pack.generated_by, "auditor1");

        await page.fill('#bundle-form input[name="from"]', "2025-12-30");
        await page.fill('#bundle-form input[name="to"]', "2026-01-02");
        const [bundle] = await Promise.all([
          page.waitForEvent("download"),
          page.click('button:has-text("Download bundle")'),
        ]);
        assertEquals(
          bundle.suggestedFilename(),
          "vigil-bundle-20251230T000000Z-20260102T000000Z.tar",
        );
        await verifyDownloadedBundle((await bundle.path())!);
        await page.click('button:has-text("Sign out")');
        await page.waitForLoadState();

        await signIn(page, base, "operator1");
        assertEquals(new URL(page.url()).pathname, "/operator");
        assertEquals(await page.locator('nav a:has-text("Events")').count(), 0);
        const res = await page.goto(`${base}/events`);
        assertEquals(res?.status(), 403);
        assertMatch(await page.innerText("body"), /Forbidden/);
        assertEquals(seen.dialogs, []);
        assertEquals(seen.csp, []);
      });
    });
  },
});

Deno.test({
  name: "five wrong passwords lock the account; the form says until when",
  ...BROWSER_TEST,
  fn: async () => {
    await withWorld({}, async (w) => {
      await withBrowser(w, async (page, base) => {
        for (let i = 0; i < 4; i++) {
          await signIn(page, base, "auditor1", `wrong ${i}`);
          assertEquals(await page.innerText('[role="alert"]'), "Wrong user name or password.");
        }
        await signIn(page, base, "auditor1", "wrong 4");
        assertMatch(await page.innerText('[role="alert"]'), /locked until .*Z \(in about 15 min\)/);
        await signIn(page, base, "auditor1", PASSWORD);
        assertEquals(new URL(page.url()).pathname, "/login");
        assertMatch(await page.innerText('[role="alert"]'), /locked until/);
      });
    });
  },
});
