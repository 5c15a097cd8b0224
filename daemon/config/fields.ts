/**
 * The schema of a config table that the core checks without knowing what the table is for: a
 * typed list of its keys ({@link ConfigField}), and the one error every table check throws,
 * {@link ConfigKeyError}, which carries the key path it is about. `vigil validate` takes the
 * file line from that path (`daemon/config/config.ts`), never from the wording of a message.
 * A source plugin declares its keys here once; the same list drives the generic check
 * (unknown keys, types, ranges, required keys), the Administration form and the docs.
 */

/** A config value that cannot be used, and the key path it is about. */
export class ConfigKeyError extends TypeError {
  override name = "ConfigKeyError";
  /**
   * Where in the table: a key (`"dsn"`), an element (`"redact[1]"`) or a key of a sub-table
   * (`"syslog.address"`).
   */
  readonly key: string;
  constructor(key: string, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.key = key;
  }
}

/** The value types a field may hold. */
export type FieldKind = "string" | "integer" | "boolean" | "strings" | "string_or_false";

/** How a field shows in the Administration form; absent, the form leaves the key alone. */
export interface FormSpec {
  /** Shown after the label, e.g. an example value. */
  readonly hint?: string;
  /** A URL whose password is masked when shown (a DSN). */
  readonly masked?: boolean;
  /** Spaces at the ends mean something (a `log_line_prefix`): the form keeps them. */
  readonly untrimmed?: boolean;
  /** Kept only while the field `key` holds one of `values`; removed otherwise. */
  readonly when?: { readonly key: string; readonly values: readonly string[] };
  /**
   * A `*_file` key that a typed secret goes into: the form shows a write-only input `field`
   * beside the path; what is typed is written to `secrets/<name>.<field>` (mode 0600) and
   * the key set to that file. The secret is never shown again.
   */
  readonly secret?: { readonly field: string; readonly hint: string };
  /** Refuses a typed value the config check would take but the form must not: why, or null. */
  readonly check?: (value: string) => string | null;
}

/** One key of a table. */
export interface ConfigField {
  readonly key: string;
  readonly kind: FieldKind;
  readonly required?: boolean;
  /** Inclusive range of an integer. */
  readonly min?: number;
  readonly max?: number;
  /** The values a string may take. */
  readonly values?: readonly string[];
  /** What the key means, in one line (docs and the contract test's listing). */
  readonly doc: string;
  readonly form?: FormSpec;
}

/**
 * Checks the keys of `table` against `fields`: no unknown key (`extra` keys are the caller's,
 * e.g. `name` and `type`), every required key present, each value of its kind and range.
 * Throws {@link ConfigKeyError}; `where` names the table in the message.
 *
 * @example
 * checkFields(WAL_FIELDS, table, { where: 'WAL source "billing"', extra: ["name", "type"] });
 */
export function checkFields(
  fields: readonly ConfigField[],
  table: Readonly<Record<string, unknown>>,
  opts: { where: string; extra?: readonly string[] },
): void {
  const { where } = opts;
  const extra = opts.extra ?? [];
  const byKey = new Map(fields.map((f) => [f.key, f]));
  for (const key of Object.keys(table)) {
    if (!byKey.has(key) && !extra.includes(key)) {
      const known = [...byKey.keys()].join(", ");
      throw new ConfigKeyError(key, `Unknown key "${key}" in ${where}: the keys are ${known}`);
    }
  }
  for (const f of fields) {
    const v = table[f.key];
    const bad = (why: string): ConfigKeyError =>
      new ConfigKeyError(f.key, `Bad "${f.key}" in ${where}: ${why}`);
    if (v === undefined) {
      if (f.required) throw bad("it is required");
      continue;
    }
    const got = JSON.stringify(v) ?? String(v);
    switch (f.kind) {
      case "string":
        if (typeof v !== "string" || v === "") throw bad("expected a non-empty string");
        if (f.values !== undefined && !f.values.includes(v)) {
          throw bad(`expected one of ${f.values.join(", ")}, got ${got}`);
        }
        break;
      case "string_or_false":
        if (v !== false && (typeof v !== "string" || v === "")) {
          throw bad(`expected a path or false, got ${got}`);
        }
        break;
      case "integer": {
        const min = f.min ?? Number.MIN_SAFE_INTEGER;
        const max = f.max ?? Number.MAX_SAFE_INTEGER;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
          throw bad(`expected an integer from ${min} to ${max}, got ${got}`);
        }
        break;
      }
      case "boolean":
        if (typeof v !== "boolean") throw bad(`expected true or false, got ${got}`);
        break;
      case "strings":
        if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
          throw bad("expected an array of strings");
        }
        break;
    }
  }
}
