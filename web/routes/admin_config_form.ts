/**
 * The Administration forms for sources and export targets, turned into `[[sources]]` and
 * `[[exports]]` tables. A source's form is its plugin's field list (`SourcePlugin.fields`, the
 * fields with a `form`), whatever its type; the export targets are the core's own. A secret
 * typed into a form (a WAL password, S3 keys) never enters a table: it is returned apart, to be
 * written to a 0600 file whose path the table names. On an edit, the keys the form does not
 * show (tuning someone wrote by hand) are kept.
 */

import type { ConfigField, FormSpec } from "../../daemon/config/fields.ts";
import type { SourcePlugin } from "../../daemon/source.ts";
import { SOURCE_PLUGINS } from "../../plugins/mod.ts";

/** A form's text fields, trimmed (save {@link UNTRIMMED}); absent ones are `""`. */
export type FormFields = Readonly<Record<string, string>>;

/**
 * Fields whose edge spaces mean something (`FormSpec.untrimmed`): PostgreSQL's default
 * `log_line_prefix` is `'%m [%p] '`, and without its last space no stderr line would match it.
 */
export const UNTRIMMED: ReadonlySet<string> = new Set(
  SOURCE_PLUGINS.flatMap((p) => p.fields.filter((f) => f.form?.untrimmed).map((f) => f.key)),
);

/** A table built from a form, and the secrets to store beside it by file suffix. */
export interface FormTable {
  table: Record<string, unknown>;
  /** e.g. `{ password: "…" }` for `secrets/<name>.password`, keyed by the `*_file` key. */
  secrets: { key: string; suffix: string; value: string }[];
}

/** The kinds of entry the forms edit. */
export const SOURCE_TYPES: readonly string[] = SOURCE_PLUGINS.map((p) => p.type);
export const EXPORT_TYPES = ["dir", "s3"] as const;

/** Fields that hold secrets: never echoed back into a page. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set([
  ...SOURCE_PLUGINS.flatMap((p) => p.fields.flatMap((f) => f.form?.secret?.field ?? [])),
  "access_key",
  "secret_key",
]);

/** Keys that name a secret's file the UI wrote (`secrets/…`): removed with their entry. */
export const SECRET_FILE_KEYS: readonly string[] = [
  ...new Set(
    SOURCE_PLUGINS.flatMap((p) => p.fields.filter((f) => f.form?.secret).map((f) => f.key)),
  ),
  "access_key_file",
  "secret_key_file",
];

/** The plugin of a source type the forms offer, or undefined. */
export function formPlugin(type: string): SourcePlugin | undefined {
  return SOURCE_PLUGINS.find((p) => p.type === type);
}

/** The fields a source type's form shows, in order. */
export function formFieldsOf(plugin: SourcePlugin): (ConfigField & { form: FormSpec })[] {
  return plugin.fields.filter((f): f is ConfigField & { form: FormSpec } => f.form !== undefined);
}

/** Reads a urlencoded/multipart body's string fields. */
export function formFields(body: Record<string, unknown>): FormFields {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === "string") out[k] = UNTRIMMED.has(k) ? v : v.trim();
  }
  return out;
}

/** A `[[sources]]` table from a form; `base` is the entry being edited. */
export function sourceFromForm(f: FormFields, base?: Record<string, unknown>): FormTable {
  const type = base === undefined ? f.type ?? "" : String(base.type);
  const t: Record<string, unknown> = { ...base, name: base?.name ?? f.name ?? "", type };
  const secrets: FormTable["secrets"] = [];
  const plugin = formPlugin(type);
  if (plugin === undefined) throw new TypeError(`type: choose one of ${SOURCE_TYPES.join(", ")}`);
  for (const field of formFieldsOf(plugin)) {
    const spec = field.form;
    const value = f[field.key];
    const why = value === undefined || value === "" ? null : spec.check?.(value) ?? null;
    if (why !== null) throw new TypeError(`${field.key}: ${why}`);
    // A field that only means something with some values of another (the prefix with
    // stderr) is dropped with the others: the plugin would refuse it there.
    const applies = spec.when === undefined || spec.when.values.includes(String(t[spec.when.key]));
    if (field.required) t[field.key] = value ?? "";
    else setOptional(t, field.key, applies ? value : "");
    const secret = spec.secret === undefined ? "" : f[spec.secret.field] ?? "";
    if (spec.secret !== undefined && secret !== "") {
      secrets.push({ key: field.key, suffix: spec.secret.field, value: secret });
    }
  }
  return { table: t, secrets };
}

/** An `[[exports]]` table from a form; `base` is the entry being edited. */
export function exportFromForm(f: FormFields, base?: Record<string, unknown>): FormTable {
  const type = base === undefined ? f.type ?? "" : String(base.type);
  const t: Record<string, unknown> = { ...base, name: base?.name ?? f.name ?? "", type };
  const secrets: FormTable["secrets"] = [];
  setOptional(t, "interval", f.interval);
  if (type === "dir") {
    t.path = f.path ?? "";
  } else if (type === "s3") {
    Object.assign(t, { endpoint: f.endpoint ?? "", bucket: f.bucket ?? "" });
    setOptional(t, "prefix", f.prefix);
    setOptional(t, "region", f.region);
    const lock = f.object_lock === "on";
    if (lock) t.object_lock = true;
    else delete t.object_lock;
    const days = f.retain_days ?? "";
    if (days === "") delete t.retain_days;
    else if (/^\d{1,6}$/.test(days)) t.retain_days = Number(days);
    else throw new TypeError("retain_days: a whole number of days");
    for (
      const [field, key] of [["access_key", "access_key_file"], ["secret_key", "secret_key_file"]]
    ) {
      if ((f[field!] ?? "") !== "") {
        secrets.push({ key: key!, suffix: field!, value: f[field!]! });
      }
    }
  } else {
    throw new TypeError(`type: choose one of ${EXPORT_TYPES.join(", ")}`);
  }
  return { table: t, secrets };
}

/** Sets `key` to `value`, or removes it when the field was left empty. */
function setOptional(t: Record<string, unknown>, key: string, value: string | undefined): void {
  if (value === undefined || value === "") delete t[key];
  else t[key] = value;
}
