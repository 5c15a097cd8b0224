/**
 * The Administration forms for sources and export targets, turned into `[[sources]]` and
 * `[[exports]]` tables. A secret typed into a form (a WAL password, S3 keys) never enters a
 * table: it is returned apart, to be written to a 0600 file whose path the table names. On an
 * edit, the keys the form does not show (tuning someone wrote by hand) are kept.
 */

import { parseDsn } from "../../daemon/pgwire/mod.ts";

/** A form's text fields, trimmed (save {@link UNTRIMMED}); absent ones are `""`. */
export type FormFields = Readonly<Record<string, string>>;

/**
 * Fields whose edge spaces mean something: PostgreSQL's default `log_line_prefix` is
 * `'%m [%p] '`, and without its last space no stderr line would match it.
 */
export const UNTRIMMED: ReadonlySet<string> = new Set(["log_line_prefix"]);

/** A table built from a form, and the secrets to store beside it by file suffix. */
export interface FormTable {
  table: Record<string, unknown>;
  /** e.g. `{ password: "…" }` for `secrets/<name>.password`, keyed by the `*_file` key. */
  secrets: { key: string; suffix: string; value: string }[];
}

/** The kinds of entry the forms edit. */
export const SOURCE_TYPES = ["wal", "pgaudit"] as const;
export const EXPORT_TYPES = ["dir", "s3"] as const;

/** Fields that hold secrets: never echoed back into a page. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(["password", "access_key", "secret_key"]);

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
  if (type === "wal") {
    const dsn = f.dsn ?? "";
    // A DSN that does not parse is the config check's to report; one with a password is ours.
    let password: string | undefined;
    try {
      password = parseDsn(dsn).password;
    } catch { /* reported by the WAL plugin's own check */ }
    if (password !== undefined) {
      throw new TypeError(
        "dsn: leave the password out of the connection URL and type it into the password field",
      );
    }
    Object.assign(t, { dsn, slot: f.slot ?? "", publication: f.publication ?? "" });
    setOptional(t, "password_file", f.password_file);
    if ((f.password ?? "") !== "") {
      secrets.push({ key: "password_file", suffix: "password", value: f.password! });
    }
  } else if (type === "pgaudit") {
    Object.assign(t, { path: f.path ?? "", format: f.format ?? "" });
    // The prefix belongs to stderr alone; the plugin refuses it with the other formats.
    setOptional(t, "log_line_prefix", t.format === "stderr" ? f.log_line_prefix : "");
    setOptional(t, "timezone", f.timezone);
  } else {
    throw new TypeError(`type: choose one of ${SOURCE_TYPES.join(", ")}`);
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
