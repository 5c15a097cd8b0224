/**
 * Administration of sources, export targets and local retention (admin only; the caller mounts
 * these behind the role check and CSRF check of `/admin/*`). Changes go to `managed.toml` in
 * the data directory, never to the config file: the whole merged configuration is checked
 * against the candidate first — a refused change leaves the file as it was and shows why in its
 * form — the change is recorded in the chain before it replaces the file, then the daemon
 * reloads. "Test connection" runs the source plugin's probe and records that it ran.
 */

import { Hono } from "hono";
import { CONFIG_CHECKERS } from "../../daemon/cli/config_load.ts";
import { ConfigError, loadConfig } from "../../daemon/config/config.ts";
import { parseDuration } from "../../daemon/config/duration.ts";
import { managedPath, withManaged } from "../../daemon/config/managed.ts";
import {
  type ManagedDoc,
  readManaged,
  removeSecrets,
  writeManaged,
  writeSecret,
  type WrittenSecret,
} from "../../daemon/config/managed_write.ts";
import type { JsonObject } from "../../daemon/event/model.ts";
import { sourcePlugin } from "../../plugins/mod.ts";
import { recordUiAction } from "../audit_trail.ts";
import type { WebDeps } from "../deps.ts";
import type { WebContext, WebEnv } from "../env.ts";
import {
  exportFromForm,
  type FormFields,
  formFields,
  SECRET_FILE_KEYS,
  sourceFromForm,
} from "./admin_config_form.ts";
import { configPlace } from "./admin_config_state.ts";

/** What the page shows after a refused change or a probe. */
export interface ConfigExtra {
  /** A refused form: which one, why, and what was typed (secrets left out by the view). */
  configError?: { form: string; message: string; fields: FormFields };
  probe?: { name: string; ok: boolean; lines: string[] };
}

/** Renders the Administration page with a status and extras. */
export type RenderAdmin = (
  c: WebContext,
  status: 200 | 400 | 404,
  extra: ConfigExtra,
) => Response | Promise<Response>;

/** The id of the local retention form. */
export const RETENTION_FORM = "retention-form";

type Kind = "sources" | "exports";
const EVENT: Record<Kind, string> = { sources: "SOURCE", exports: "EXPORT_TARGET" };

/** Routes under /admin/sources, /admin/exports and /admin/retention. */
export function adminConfigRoutes(deps: WebDeps, render: RenderAdmin): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const place = configPlace(deps.config);

  const unavailable = (c: WebContext): Response =>
    c.text("Not available: the web UI was started without a configuration file", 404);

  /** Checks the merged config with the candidate overlay in `stagedDir`. */
  const check = async (stagedDir: string, stagedFile: string): Promise<void> => {
    const own = await loadConfig(place!.file, CONFIG_CHECKERS);
    try {
      await withManaged({ ...own, dataDir: stagedDir }, CONFIG_CHECKERS);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The candidate's messages name the file it is about to become.
      const file = managedPath(place!.dataDir);
      throw new ConfigError(
        file,
        error.line,
        undefined,
        error.message.replace(`${stagedFile}:${error.line}: `, ""),
      );
    }
  };

  /** Applies `edit` to the overlay, with the secrets written first and put back on refusal. */
  const save = async (
    c: WebContext,
    opts: {
      command: string;
      object: string;
      form: string;
      fields: FormFields;
      edit: (doc: ManagedDoc) => Promise<{ doc: ManagedDoc; written: WrittenSecret[] }>;
      /** The event's context for the accepted change. */
      context: (doc: ManagedDoc) => JsonObject;
      /** Where to go once saved: `done` code (a refused reload appended) and anchor. */
      done: string;
      anchor: string;
      removed?: string[];
    },
  ): Promise<Response> => {
    const { command, object } = opts;
    let written: WrittenSecret[] = [];
    try {
      const edited = await opts.edit(await readManaged(place!.dataDir));
      written = edited.written;
      const context = opts.context(edited.doc);
      await writeManaged(place!.dataDir, edited.doc, {
        check: async (dir, file) => {
          await check(dir, file);
          // Durable in the chain before it takes effect; a failed append stops the change.
          await recordUiAction(deps, c, { command, object, context });
        },
      });
    } catch (error) {
      for (const w of written) await w.undo();
      if (!(error instanceof ConfigError || error instanceof TypeError)) throw error;
      await recordUiAction(deps, c, { command, object, error: error.message.slice(0, 500) });
      return render(c, 400, {
        configError: { form: opts.form, message: error.message, fields: opts.fields },
      });
    }
    if (opts.removed !== undefined) await removeSecrets(place!.dataDir, opts.removed);
    const reloaded = deps.reload === undefined ? null : await deps.reload();
    const done = `${opts.done}${reloaded === false ? "-unreloaded" : ""}`;
    return c.redirect(`/admin?done=${done}#${opts.anchor}`, 303);
  };

  /** Applies a change to one `[[sources]]` or `[[exports]]` entry. */
  const saveEntry = (
    c: WebContext,
    opts: {
      kind: Kind;
      action: "ADD" | "EDIT" | "DELETE";
      name: string;
      form: string;
      fields: FormFields;
      edit: (doc: ManagedDoc) => Promise<{ doc: ManagedDoc; written: WrittenSecret[] }>;
      removed?: string[];
    },
  ): Promise<Response> =>
    save(c, {
      command: `${EVENT[opts.kind]}_${opts.action}`,
      object: `${opts.kind === "sources" ? "source" : "export target"} ${opts.name}`,
      form: opts.form,
      fields: opts.fields,
      edit: opts.edit,
      context: (doc) => described(doc[opts.kind].find((t) => t.name === opts.name)),
      done: `${opts.kind === "sources" ? "source" : "export"}-${
        opts.action === "DELETE" ? "deleted" : "saved"
      }`,
      anchor: opts.kind,
      ...(opts.removed === undefined ? {} : { removed: opts.removed }),
    });

  /** Writes a form's secrets as `secrets/<name>.<suffix>` and points the table at them. */
  const withSecrets = async (
    table: Record<string, unknown>,
    secrets: { key: string; suffix: string; value: string }[],
  ): Promise<WrittenSecret[]> => {
    const written: WrittenSecret[] = [];
    try {
      for (const s of secrets) {
        const w = await writeSecret(place!.dataDir, `${table.name}.${s.suffix}`, s.value);
        written.push(w);
        table[s.key] = w.path;
      }
    } catch (error) {
      for (const w of written) await w.undo();
      throw error;
    }
    return written;
  };

  for (const kind of ["sources", "exports"] as const) {
    const fromForm = kind === "sources" ? sourceFromForm : exportFromForm;
    const single = kind === "sources" ? "source" : "export";

    app.post(`/admin/${kind}`, async (c) => {
      if (place === null) return unavailable(c);
      const fields = formFields(await c.req.parseBody());
      const name = fields.name ?? "";
      return saveEntry(c, {
        kind,
        action: "ADD",
        name,
        form: `add-${single}-${fields.type ?? ""}`,
        fields,
        edit: async (doc) => {
          if (doc[kind].some((t) => t.name === name)) {
            throw new TypeError(`name: "${name}" is in use already`);
          }
          // A source and a token of one name would write events no one could tell apart.
          const token = kind === "sources" ? deps.access.tokens.get(name.toLowerCase()) : null;
          if (token !== null) {
            throw new TypeError(
              `name: "${name}" is the name of the API token ${token.name}, whose events would ` +
                "pass for this source's; choose another name",
            );
          }
          const { table, secrets } = fromForm(fields);
          const written = await withSecrets(table, secrets);
          return { doc: { ...doc, [kind]: [...doc[kind], table] }, written };
        },
      });
    });

    app.post(`/admin/${kind}/:name`, async (c) => {
      if (place === null) return unavailable(c);
      const name = c.req.param("name");
      const fields = formFields(await c.req.parseBody());
      return saveEntry(c, {
        kind,
        action: "EDIT",
        name,
        form: `edit-${single}-${name}`,
        fields,
        edit: async (doc) => {
          const at = doc[kind].findIndex((t) => t.name === name);
          if (at < 0) throw new TypeError(editableOnly(name));
          const { table, secrets } = fromForm(fields, doc[kind][at]);
          const written = await withSecrets(table, secrets);
          return { doc: { ...doc, [kind]: doc[kind].with(at, table) }, written };
        },
      });
    });

    app.post(`/admin/${kind}/:name/delete`, async (c) => {
      if (place === null) return unavailable(c);
      const name = c.req.param("name");
      const old = (await readManaged(place.dataDir))[kind].find((t) => t.name === name);
      return saveEntry(c, {
        kind,
        action: "DELETE",
        name,
        form: `edit-${single}-${name}`,
        fields: {},
        removed: SECRET_FILE_KEYS.map((k) => old?.[k]).filter((p): p is string =>
          typeof p === "string"
        ),
        edit: (doc) => {
          if (old === undefined) throw new TypeError(editableOnly(name));
          return Promise.resolve({
            doc: { ...doc, [kind]: doc[kind].filter((t) => t.name !== name) },
            written: [],
          });
        },
      });
    });
  }

  app.post("/admin/retention", async (c) => {
    if (place === null) return unavailable(c);
    const fields = formFields(await c.req.parseBody());
    const value = fields.retain_local ?? "";
    return save(c, {
      command: "RETENTION_SET",
      object: "local retention",
      form: RETENTION_FORM,
      fields,
      edit: async (doc) => {
        const own = await loadConfig(place.file, CONFIG_CHECKERS);
        if (own.store.retainLocalMs !== null) {
          throw new TypeError(
            `retain_local is set in ${baseName(own.file)}, which decides it: change it there`,
          );
        }
        if (value !== "") {
          try {
            parseDuration(value);
          } catch (error) {
            if (!(error instanceof TypeError)) throw error;
            throw new TypeError(`retain_local: ${error.message}`);
          }
        }
        return { doc: { ...doc, retainLocal: value === "" ? null : value }, written: [] };
      },
      context: (doc) => ({ retain_local: doc.retainLocal }),
      done: value === "" ? "retention-cleared" : "retention-saved",
      anchor: "retention",
    });
  });

  app.post("/admin/sources/:name/test", async (c) => {
    if (place === null) return unavailable(c);
    const name = c.req.param("name");
    const own = await loadConfig(place.file, CONFIG_CHECKERS).catch(() => null);
    const tables = [
      ...(own?.sources.map((s) => s.table) ?? []),
      ...(await readManaged(place.dataDir)).sources,
    ];
    const table = tables.find((t) => t.name === name);
    if (table === undefined) {
      return render(c, 404, { probe: { name, ok: false, lines: ["no such source"] } });
    }
    const result = await sourcePlugin(String(table.type)).probe(table);
    await recordUiAction(deps, c, {
      command: "SOURCE_TEST",
      object: `source ${name}`,
      context: { ok: result.ok },
      ...(result.ok ? {} : { error: result.lines.join("; ").slice(0, 500) }),
    });
    return render(c, 200, { probe: { name, ...result } });
  });

  return app;
}

/** The last part of a path: the config file as the page names it. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function editableOnly(name: string): string {
  return `"${name}" is not in managed.toml: entries of the config file are changed there`;
}

/** A table as an event's context: it holds paths of secret files, never secrets. */
function described(table: Record<string, unknown> | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(table ?? {})) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
  }
  return out;
}
