/**
 * Editing sources and export targets on the Administration page, through `app.request()`:
 * config-file entries are read-only, `managed.toml` entries are added, edited and deleted,
 * every change is checked against the whole configuration (a refused one leaves the file as it
 * was), recorded in the chain and followed by a reload; secrets land in 0600 files and are
 * never shown; only admins may, and only with the CSRF token.
 */

import { loadVigilConfig } from "../../daemon/cli/config_load.ts";
import type { VigilConfig } from "../../daemon/config/config.ts";
import { managedPath } from "../../daemon/config/managed.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { Client } from "./_client.ts";
import { uiEvents, withWorld, type World } from "./_harness.ts";

const TESTDATA = new URL("../testdata/pgaudit/", import.meta.url).pathname;
const SECRET = "pa55-w0rd-never-shown";

/** A config file with a WAL source of its own; the world's UI gets it and a reload stub. */
async function withConfig(
  fn: (w: World, env: { file: string; data: string; reloads: VigilConfig[] }) => Promise<void>,
  opts: { reloadOk?: boolean } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "vigil-admin-" });
  try {
    const file = `${root}/vigil.toml`;
    const data = `${root}/data`;
    await Deno.mkdir(data);
    await Deno.writeTextFile(
      file,
      `data_dir = "${data}"\n\n[[sources]]\nname = "billing"\ntype = "wal"\n` +
        `dsn = "postgres://vigil@127.0.0.1:1/billing"\nslot = "s1"\npublication = "p1"\n`,
    );
    await Deno.mkdir(`${root}/logs`);
    await Deno.copyFile(`${TESTDATA}postgresql.csv`, `${root}/logs/pg.csv`);
    const reloads: VigilConfig[] = [];
    await withWorld({ config: await loadVigilConfig(file) }, async (w) => {
      // As `vigil serve` wires it: the daemon re-reads the file and the overlay.
      w.deps.reload = async () => {
        reloads.push(await loadVigilConfig(file));
        return opts.reloadOk ?? true;
      };
      await fn(w, { file, data, reloads });
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function admin(w: World): Promise<{ c: Client; csrf: string }> {
  const c = new Client(w.app);
  await c.login("admin1");
  return { c, csrf: await c.csrf("/admin") };
}

const readOverlay = (data: string): Promise<string> =>
  Deno.readTextFile(managedPath(data)).catch(() => "(none)");

Deno.test("Admin adds, edits and deletes a pgAudit source; config-file sources stay read-only", async () => {
  await withConfig(async (w, { data, reloads }) => {
    const { c, csrf } = await admin(w);
    let page = (await c.page("/admin")).html;
    assert(/data-entry="billing" data-origin="file"/.test(page));
    assert(page.includes("from vigil.toml"));

    const logs = `${data}/../logs`;
    const add = await c.post("/admin/sources", {
      _csrf: csrf,
      type: "pgaudit",
      name: "audit-log",
      path: `${logs}/*.csv`,
      format: "csvlog",
      log_line_prefix: "ignored for csvlog",
    });
    assertEquals(add.status, 303);
    assertEquals(add.headers.get("Location"), "/admin?done=source-saved#sources");
    assertEquals(reloads.at(-1)!.sources.map((s) => s.name), ["billing", "audit-log"]);
    assertEquals(reloads.at(-1)!.sources[1]!.table.log_line_prefix, undefined);
    assertEquals((await Deno.stat(managedPath(data))).mode! & 0o777, 0o600);
    page = (await c.page("/admin?done=source-saved")).html;
    assert(/data-entry="audit-log" data-origin="managed"/.test(page));
    assert(page.includes("Source saved; the daemon reloaded its sources."));

    // Test connection runs the plugin's probe.
    const probe = await c.post("/admin/sources/audit-log/test", { _csrf: csrf });
    assertEquals(probe.status, 200);
    assert((await probe.text()).includes("first line parses as csvlog"));

    const edit = await c.post("/admin/sources/audit-log", {
      _csrf: csrf,
      path: `${logs}/*.json`,
      format: "jsonlog",
    });
    assertEquals(edit.status, 303);
    assertEquals(reloads.at(-1)!.sources[1]!.table.format, "jsonlog");
    const overlay = await readOverlay(data);

    // A refused edit comes back in its own form, opened, with the plugin's message.
    const badEdit = await c.post("/admin/sources/audit-log", {
      _csrf: csrf,
      path: `${logs}/*.log`,
      format: "stderr",
    });
    assertEquals(badEdit.status, 400);
    const badHtml = await badEdit.text();
    const form = badHtml.slice(badHtml.indexOf('id="edit-source-audit-log"'));
    assert(
      /^[^>]*><input type="hidden" name="_csrf"[^>]*><p class="notice bad" role="alert">[^<]*log_line_prefix/
        .test(form),
      form.slice(0, 400),
    );
    assert(
      /<details open><summary>Edit<\/summary><form[^>]*id="edit-source-audit-log"/.test(badHtml),
    );
    assertEquals(await readOverlay(data), overlay);

    // The config file's own source cannot be edited or deleted here.
    const fileEdit = await c.post("/admin/sources/billing", {
      _csrf: csrf,
      dsn: "postgres://x@h/db",
      slot: "s",
      publication: "p",
    });
    assertEquals(fileEdit.status, 400);
    assert((await fileEdit.text()).includes("is not in managed.toml"));
    assertEquals((await c.post("/admin/sources/billing/delete", { _csrf: csrf })).status, 400);

    assertEquals((await c.post("/admin/sources/audit-log/delete", { _csrf: csrf })).status, 303);
    assertEquals(reloads.at(-1)!.sources.map((s) => s.name), ["billing"]);

    const events = (await uiEvents(w.dir)).filter((e) => /^SOURCE_/.test(e.command ?? ""));
    assertEquals(
      events.map((e) => [e.command, e.object, e.error ?? null]),
      [
        ["SOURCE_ADD", "source audit-log", null],
        ["SOURCE_TEST", "source audit-log", null],
        ["SOURCE_EDIT", "source audit-log", null],
        ["SOURCE_EDIT", "source audit-log", events[3]!.error!],
        ["SOURCE_EDIT", "source billing", events[4]!.error!],
        ["SOURCE_DELETE", "source billing", events[5]!.error!],
        ["SOURCE_DELETE", "source audit-log", null],
      ],
    );
    assertEquals(events[0]!.app_user, "admin1");
    assertEquals(events[0]!.context?.format, "csvlog");
  });
});

Deno.test("Admin adds a WAL source: the password goes to a 0600 file and is never shown", async () => {
  await withConfig(async (w, { data, reloads }) => {
    const { c, csrf } = await admin(w);
    const res = await c.post("/admin/sources", {
      _csrf: csrf,
      type: "wal",
      name: "crm",
      dsn: "postgres://vigil@127.0.0.1:1/crm",
      slot: "vigil_crm",
      publication: "vigil_crm",
      password: SECRET,
    });
    assertEquals(res.status, 303);
    const secretFile = `${data}/secrets/crm.password`;
    assertEquals(await Deno.readTextFile(secretFile), `${SECRET}\n`);
    assertEquals((await Deno.stat(secretFile)).mode! & 0o777, 0o600);
    const overlay = await readOverlay(data);
    assert(overlay.includes(`password_file = "${secretFile}"`), overlay);
    assert(!overlay.includes(SECRET));
    assertEquals(reloads.at(-1)!.sources[1]!.table.password_file, secretFile);

    // An edit without a password keeps the file.
    const edit = await c.post("/admin/sources/crm", {
      _csrf: csrf,
      dsn: "postgres://vigil@127.0.0.1:1/crm2",
      slot: "vigil_crm",
      publication: "vigil_crm",
      password_file: secretFile,
    });
    assertEquals(edit.status, 303);
    assertEquals(await Deno.readTextFile(secretFile), `${SECRET}\n`);

    // The probe fails (nothing listens on port 1) and says so, without the password.
    const probe = await c.post("/admin/sources/crm/test", { _csrf: csrf });
    const probeHtml = await probe.text();
    assert(probeHtml.includes("Connection test failed."), probeHtml);
    assert(probeHtml.includes("cannot connect to 127.0.0.1:1"), probeHtml);

    const page = (await c.page("/admin")).html;
    for (const text of [page, probeHtml, JSON.stringify(await uiEvents(w.dir))]) {
      assert(!text.includes(SECRET), "the password leaked");
    }
    assertEquals((await c.post("/admin/sources/crm/delete", { _csrf: csrf })).status, 303);
    assertEquals(await Deno.stat(secretFile).then(() => true, () => false), false);
  });
});

Deno.test("A refused change leaves managed.toml unchanged and shows the error in its form", async () => {
  await withConfig(async (w, { data }) => {
    const { c, csrf } = await admin(w);
    const ok = await c.post("/admin/exports", {
      _csrf: csrf,
      type: "dir",
      name: "archive",
      path: `${data}/../archive`,
    });
    assertEquals(ok.status, 303);
    assertEquals(ok.headers.get("Location"), "/admin?done=export-saved#exports");
    const before = await readOverlay(data);

    const cases: [Record<string, string>, string][] = [
      [
        { type: "wal", name: "x", dsn: "postgres://u@h/db", slot: "Bad-Slot!", publication: "p" },
        "slot",
      ],
      [
        { type: "wal", name: "billing", dsn: "postgres://u@h/db", slot: "s", publication: "p" },
        "used in",
      ],
      [{
        type: "wal",
        name: "y",
        dsn: `postgres://u:${SECRET}@h/db`,
        slot: "s",
        publication: "p",
      }, "leave the password out"],
      [{ type: "pgaudit", name: "z", path: "/var/log/*.log", format: "stderr" }, "log_line_prefix"],
    ];
    for (const [fields, why] of cases) {
      const res = await c.post("/admin/sources", { _csrf: csrf, ...fields });
      const html = await res.text();
      assertEquals(res.status, 400, why);
      const form = html.slice(html.indexOf(`id="add-source-${fields.type}"`));
      const alert = /role="alert">([^<]*)</.exec(form)?.[1] ?? "";
      assert(alert.includes(why), `${why}: ${alert}`);
      assert(!html.includes(SECRET), "the typed password came back");
      assertEquals(await readOverlay(data), before);
    }
    // A WAL password typed with a refused change leaves no file behind.
    await c.post("/admin/sources", {
      _csrf: csrf,
      type: "wal",
      name: "w",
      dsn: "postgres://u@h/db",
      slot: "Bad-Slot!",
      publication: "p",
      password: SECRET,
    });
    assertEquals(
      await Deno.stat(`${data}/secrets/w.password`).then(() => true, () => false),
      false,
    );

    const s3 = await c.post("/admin/exports", {
      _csrf: csrf,
      type: "s3",
      name: "offsite",
      endpoint: "https://s3.example:7480/with/path",
      bucket: "vigil-audit",
      access_key: "AKIA-not-shown",
      secret_key: SECRET,
    });
    assertEquals(s3.status, 400);
    const s3Html = await s3.text();
    assert(s3Html.includes("endpoint must be"));
    assert(!s3Html.includes(SECRET) && !s3Html.includes("AKIA-not-shown"), "a typed key came back");
    for (const key of ["access_key", "secret_key"]) {
      const left = await Deno.stat(`${data}/secrets/offsite.${key}`).then(() => true, () => false);
      assertEquals(left, false, `${key} file left behind by a refused change`);
    }
    assertEquals(await readOverlay(data), before);
    const refused = (await uiEvents(w.dir)).filter((e) => e.error !== undefined);
    assertEquals(refused.length, cases.length + 2);
  });
});

Deno.test("Admin adds an S3 target: both keys go to 0600 files; a refused reload is said", async () => {
  await withConfig(async (w, { data, reloads }) => {
    const { c, csrf } = await admin(w);
    const res = await c.post("/admin/exports", {
      _csrf: csrf,
      type: "s3",
      name: "offsite",
      endpoint: "https://s3.example:7480",
      bucket: "vigil-audit",
      access_key: "AKIA-not-shown",
      secret_key: SECRET,
      object_lock: "on",
      retain_days: "400",
    });
    assertEquals(res.status, 303);
    assertEquals(res.headers.get("Location"), "/admin?done=export-saved-unreloaded#exports");
    const t = reloads.at(-1)!.exports[0]!.table;
    assertEquals([t.object_lock, t.retain_days], [true, 400]);
    for (const [key, value] of [["access_key", "AKIA-not-shown"], ["secret_key", SECRET]]) {
      const path = `${data}/secrets/offsite.${key}`;
      assertEquals(t[`${key}_file`], path);
      assertEquals(await Deno.readTextFile(path), `${value}\n`);
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
    const page = (await c.page("/admin?done=export-saved-unreloaded")).html;
    assert(page.includes("the reload was refused"));
    assert(!page.includes(SECRET) && !page.includes("AKIA-not-shown"));
  }, { reloadOk: false });
});

Deno.test("Only admins edit sources, and only with the CSRF token; probe output is text", async () => {
  await withConfig(async (w, { data }) => {
    for (const role of ["operator1", "auditor1"]) {
      const c = new Client(w.app);
      await c.login(role);
      const csrf = await c.csrf("/");
      assertEquals((await c.page("/admin")).status, 403);
      for (const path of ["/admin/sources", "/admin/exports", "/admin/sources/billing/test"]) {
        const res = await c.post(path, { _csrf: csrf, type: "dir", name: "x", path: "/tmp/x" });
        assertEquals(res.status, 403, `${role} ${path}`);
      }
    }
    const { c, csrf } = await admin(w);
    const fields = { type: "dir", name: "archive", path: `${data}/../archive` };
    assertEquals((await c.post("/admin/exports", fields)).status, 403);
    assertEquals((await c.post("/admin/exports", { ...fields, _csrf: "forged" })).status, 403);
    assertEquals(await readOverlay(data), "(none)");

    // A file name with markup comes back from the probe as text.
    const hostile = `<img src=x onerror=alert(1)>*.csv`;
    const add = await c.post("/admin/sources", {
      _csrf: csrf,
      type: "pgaudit",
      name: "hostile",
      path: `${data}/../${hostile}`, // beside the data dir: no source may read inside it
      format: "csvlog",
    });
    assertEquals(add.status, 303);
    const html = await (await c.post("/admin/sources/hostile/test", { _csrf: csrf })).text();
    assert(!html.includes("<img src=x"), "markup rendered");
    assert(html.includes("&lt;img src=x onerror=alert(1)&gt;*.csv"), html);
  });
});

Deno.test("the pgAudit form keeps log_line_prefix as typed, trailing space and all", async () => {
  await withConfig(async (w, { data, reloads }) => {
    const { c, csrf } = await admin(w);
    const res = await c.post("/admin/sources", {
      _csrf: csrf,
      type: "pgaudit",
      name: "stderr-log",
      path: "/var/log/postgresql/postgresql-15-main.log",
      format: "stderr",
      log_line_prefix: "%m [%p] ",
    });
    assertEquals(res.status, 303);
    // PostgreSQL's default prefix: without its last space no stderr line would match it.
    const overlay = await readOverlay(data);
    assert(overlay.includes(`log_line_prefix = "%m [%p] "`), overlay);
    const table = reloads.at(-1)!.sources.find((s) => s.name === "stderr-log")!.table;
    assertEquals(table.log_line_prefix, "%m [%p] ");
  });
});

Deno.test("a source cannot be added under an API token's name", async () => {
  await withConfig(async (w, { data }) => {
    w.access.tokens.create("shop", ["ingest"], "admin1");
    const { c, csrf } = await admin(w);
    const res = await c.post("/admin/sources", {
      _csrf: csrf,
      type: "pgaudit",
      name: "shop",
      path: "/var/log/postgresql/*.csv",
      format: "csvlog",
    });
    assertEquals(res.status, 400);
    assert((await res.text()).includes("is the name of the API token shop"));
    assertEquals(await readOverlay(data), "(none)");
    const trail = (await uiEvents(w.dir)).filter((e) => e.command === "SOURCE_ADD");
    assertEquals(trail.length, 1);
    assert(/API token/.test(trail[0]!.error ?? ""), "recorded as refused");
  });
});
