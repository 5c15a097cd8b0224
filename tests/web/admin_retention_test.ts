/**
 * Local retention on the Administration page, through `app.request()`: an admin sets and clears
 * `[store] retain_local` in `managed.toml`, checked like the config file's (the duration
 * grammar, an export target needed) and followed by a reload that carries it; the config
 * file's own value is shown read-only and cannot be overridden; only admins may, and only with
 * the CSRF token; each attempt is in the chain.
 */

import { loadVigilConfig } from "../../daemon/cli/config_load.ts";
import type { VigilConfig } from "../../daemon/config/config.ts";
import { managedPath } from "../../daemon/config/managed.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld, type World } from "./_harness.ts";

const DAY_MS = 86_400_000;

/** A config file of `body` (after data_dir); the world's UI gets it and a reload stub. */
async function withConfig(
  body: (root: string) => string,
  fn: (w: World, env: { file: string; data: string; reloads: VigilConfig[] }) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "vigil-retention-" });
  try {
    const file = `${root}/vigil.toml`;
    const data = `${root}/data`;
    await Deno.mkdir(data);
    await Deno.writeTextFile(file, `data_dir = "${data}"\n\n${body(root)}`);
    const reloads: VigilConfig[] = [];
    await withWorld({ config: await loadVigilConfig(file) }, async (w) => {
      w.deps.reload = async () => {
        reloads.push(await loadVigilConfig(file));
        return true;
      };
      await fn(w, { file, data, reloads });
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const target = (root: string): string =>
  `[[exports]]\nname = "archive"\ntype = "dir"\npath = "${root}/archive"\n`;

async function admin(w: World): Promise<{ c: Client; csrf: string }> {
  const c = new Client(w.app);
  await c.login("admin1");
  return { c, csrf: await c.csrf("/admin") };
}

const readOverlay = (data: string): Promise<string> =>
  Deno.readTextFile(managedPath(data)).catch(() => "(none)");

/** The retention section of a page. */
function section(html: string): string {
  const start = html.indexOf('<div id="retention"');
  assert(start >= 0, "no retention section");
  return html.slice(start, html.indexOf("</div>", start));
}

Deno.test("Admin sets local retention in managed.toml; the reload applies it; clearing removes it", async () => {
  await withConfig(target, async (w, { file, data, reloads }) => {
    const { c, csrf } = await admin(w);
    let html = section((await c.page("/admin")).html);
    assert(html.includes('data-origin="none"') && html.includes("Off: local segments"), html);
    assert(html.includes('id="retention-form"') && html.includes('name="_csrf"'), html);

    const set = await c.post("/admin/retention", { _csrf: csrf, retain_local: "90d" });
    assertEquals(set.status, 303);
    assertEquals(set.headers.get("Location"), "/admin?done=retention-saved#retention");
    assert((await readOverlay(data)).includes('[store]\nretain_local = "90d"'));
    assertEquals(reloads.at(-1)!.store.retainLocalMs, 90 * DAY_MS);
    assertEquals((await loadVigilConfig(file)).store.retainLocalMs, 90 * DAY_MS);
    const page = (await c.page("/admin?done=retention-saved")).html;
    assert(page.includes("Local retention saved; the daemon reloaded it."));
    html = section(page);
    assert(html.includes('data-origin="managed"') && html.includes("managed in the UI"), html);
    assert(html.includes('name="retain_local" type="text" autocomplete="off" value="90d"'), html);

    // Another managed edit keeps it.
    const add = await c.post("/admin/exports", {
      _csrf: csrf,
      type: "dir",
      name: "second",
      path: `${data}/../second`,
    });
    assertEquals(add.status, 303);
    assertEquals(reloads.at(-1)!.store.retainLocalMs, 90 * DAY_MS);

    const clear = await c.post("/admin/retention", { _csrf: csrf, retain_local: "" });
    assertEquals(clear.status, 303);
    assertEquals(clear.headers.get("Location"), "/admin?done=retention-cleared#retention");
    const overlay = await readOverlay(data);
    assert(!overlay.includes("retain_local") && !overlay.includes("[store]"), overlay);
    assert(overlay.includes('name = "second"'), overlay);
    assertEquals(reloads.at(-1)!.store.retainLocalMs, null);
    assert(section((await c.page("/admin")).html).includes('data-origin="none"'));

    const events = (await uiEvents(w.dir)).filter((e) => e.command === "RETENTION_SET");
    assertEquals(
      events.map((e) => [e.object, e.app_user, e.context?.retain_local, e.error ?? null]),
      [["local retention", "admin1", "90d", null], ["local retention", "admin1", null, null]],
    );
  });
});

Deno.test("A bad duration or no export target is refused with 400 and managed.toml kept", async () => {
  await withConfig(() => "", async (w, { data, reloads }) => {
    const { c, csrf } = await admin(w);
    const alertOf = async (res: Response): Promise<string> => {
      assertEquals(res.status, 400);
      const form = section(await res.text());
      return /<form[^>]*id="retention-form"[^>]*><input[^>]*><p class="notice bad" role="alert">([^<]*)</
        .exec(form)?.[1] ?? form;
    };

    const bad = await alertOf(
      await c.post("/admin/retention", { _csrf: csrf, retain_local: "90 days" }),
    );
    assert(bad.startsWith("retain_local: expected a duration such as"), bad);
    assertEquals(await readOverlay(data), "(none)");

    const lonely = await alertOf(
      await c.post("/admin/retention", { _csrf: csrf, retain_local: "30d" }),
    );
    assert(lonely.includes("needs at least one [[exports]] target"), lonely);
    assertEquals(await readOverlay(data), "(none)");
    assertEquals(reloads.length, 0);

    const refused = (await uiEvents(w.dir)).filter((e) => e.command === "RETENTION_SET");
    assertEquals(refused.map((e) => e.error !== undefined), [true, true]);
  });
});

Deno.test("The config file's retain_local is shown read-only and a change is refused", async () => {
  await withConfig(
    (root) => `[store]\nretain_local = "7d"\n\n${target(root)}`,
    async (w, { data, reloads }) => {
      const { c, csrf } = await admin(w);
      const html = section((await c.page("/admin")).html);
      assert(html.includes('data-origin="file"') && html.includes("<strong>7d</strong>"), html);
      assert(html.includes("from vigil.toml"), html);
      assert(!html.includes("<form"), html);

      for (const retain_local of ["90d", ""]) {
        const res = await c.post("/admin/retention", { _csrf: csrf, retain_local });
        assertEquals(res.status, 400);
        const page = await res.text();
        assert(page.includes("retain_local is set in vigil.toml, which decides it"), page);
      }
      assertEquals(await readOverlay(data), "(none)");
      assertEquals(reloads.length, 0);
    },
  );
});

Deno.test("Only admins set local retention, and only with the CSRF token", async () => {
  await withConfig(target, async (w, { data }) => {
    for (const role of ["operator1", "auditor1"]) {
      const c = new Client(w.app);
      await c.login(role);
      const csrf = await c.csrf("/");
      const res = await c.post("/admin/retention", { _csrf: csrf, retain_local: "90d" });
      assertEquals(res.status, 403, role);
    }
    const { c } = await admin(w);
    assertEquals((await c.post("/admin/retention", { retain_local: "90d" })).status, 403);
    const forged = await c.post("/admin/retention", { _csrf: "forged", retain_local: "90d" });
    assertEquals(forged.status, 403);
    assertEquals(await readOverlay(data), "(none)");
  });
});
