/**
 * Checks an incoming event object (from `vigil ingest`, the HTTP API or a source) against the
 * field table and returns it as a `NewEvent`, keys in canonical order. An event that passes
 * encodes canonically, stores, exports to Arrow and reads back to the same bytes: every text is
 * well-formed Unicode (UTF-8 round-trips), every number an exact integer or finite JSON number.
 *
 * Rules: unknown fields are errors; `null` means absent; `seq` and `ingest_ts` are the store's to
 * assign and are refused; `source` comes from the caller and may only be repeated, not changed;
 * a missing `ts` is the ingest time. Nested JSON values are checked in place, not copied.
 *
 * Secrets are redacted here (`redact.ts`: statement, error, params, raw; `redacted` is set when
 * anything went), so that every event that comes in from outside a source — the HTTP API,
 * `vigil ingest`, the web UI's own trail — loses them on the one path it takes to the store.
 */

import {
  EVENT_FIELDS,
  EVENT_KINDS,
  type EventKind,
  type FieldSpec,
  fieldSpec,
  type NewEvent,
} from "./model.ts";
import { DEFAULT_RULES, redactEvent, type RedactRule } from "./redact.ts";
import { parseRfc3339Micros } from "./time.ts";

export { formatRfc3339Micros, parseRfc3339Micros } from "./time.ts";

/** Largest UTF-8 size of one text field, the `params` list or one JSON field, by default. */
export const DEFAULT_MAX_FIELD_BYTES: number = 16 * 1024 * 1024;
/** Deepest nesting accepted inside a JSON field; deeper input is more likely an attack. */
export const MAX_JSON_DEPTH = 64;

/** What `validateEvent` needs from its caller. */
export interface ValidateOptions {
  /** The ingesting source's name (the CLI's `--source`); it becomes the event's `source`. */
  source: string;
  /** Ingest time, µs since the epoch: the event time of an input without `ts`. */
  ingestTs: number;
  /** Limit per text field, `params` and JSON field in UTF-8 bytes; default 16 MiB. */
  maxFieldBytes?: number;
  /** Redaction rules (`compileRedaction`); default the built-in ones. */
  redaction?: readonly RedactRule[];
}

/** An input event that does not fit the schema. `field` is unset for the event as a whole. */
export class EventValidationError extends TypeError {
  readonly field: string | undefined;
  constructor(field: string | undefined, message: string) {
    super(field === undefined ? `event: ${message}` : `field ${JSON.stringify(field)}: ${message}`);
    this.name = "EventValidationError";
    this.field = field;
  }
}

/** An input event with a field over the size or nesting limit. */
export class EventLimitError extends RangeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`field ${JSON.stringify(field)}: ${message}`);
    this.name = "EventLimitError";
    this.field = field;
  }
}

const STORE_ASSIGNED = new Set(["seq", "ingest_ts"]);
const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

/**
 * Validates one input event. Throws `EventValidationError` (a `TypeError`) naming the field for
 * bad input, `EventLimitError` (a `RangeError`) for a field over the limits, and `TypeError` for
 * bad options.
 *
 * @example
 * validateEvent({ kind: "app", ts: "2024-05-01T08:00:00Z", app_user: "ada" },
 *   { source: "billing", ingestTs: Date.now() * 1000 });
 */
export function validateEvent(input: unknown, opts: ValidateOptions): NewEvent {
  const maxBytes = checkOptions(opts);
  if (!isPlainObject(input)) {
    throw new EventValidationError(undefined, `not a JSON object (got ${describeType(input)})`);
  }
  for (const name of Object.keys(input)) {
    if (fieldSpec(name) === undefined) throw new EventValidationError(name, "not an event field");
    if (STORE_ASSIGNED.has(name) && input[name] != null) {
      throw new EventValidationError(name, "is assigned by the store; remove it from the input");
    }
    if (name === "token" && input[name] != null) {
      throw new EventValidationError(name, "is set by Vigil from the posting API token");
    }
  }
  const out: Record<string, unknown> = {};
  for (const spec of EVENT_FIELDS) {
    const name = spec.name;
    if (STORE_ASSIGNED.has(name)) continue;
    const raw = input[name];
    if (name === "source") {
      if (raw != null && raw !== opts.source) {
        throw new EventValidationError(
          name,
          `${shown(raw)} differs from the ingest source ${JSON.stringify(opts.source)}`,
        );
      }
      out.source = opts.source;
    } else if (raw != null) {
      out[name] = checkValue(spec, raw, maxBytes);
    } else if (name === "ts") {
      out.ts = opts.ingestTs;
    } else if (spec.required) {
      const hint = spec.type === "kind" ? ` (one of ${EVENT_KINDS.join(", ")})` : "";
      throw new EventValidationError(name, `is required${hint}`);
    }
  }
  const event = out as unknown as NewEvent;
  if (!redactEvent(event, opts.redaction ?? DEFAULT_RULES)) return event;
  // `redacted` may have been added last: put the keys back in canonical order.
  const ordered: Record<string, unknown> = {};
  for (const spec of EVENT_FIELDS) {
    if (Object.hasOwn(out, spec.name)) ordered[spec.name] = out[spec.name];
  }
  return ordered as unknown as NewEvent;
}

function checkOptions(opts: ValidateOptions): number {
  if (typeof opts.source !== "string" || opts.source === "" || !opts.source.isWellFormed()) {
    throw new TypeError(`Cannot validate events: source must be a non-empty string`);
  }
  if (!Number.isSafeInteger(opts.ingestTs)) {
    throw new TypeError(`Cannot validate events: ingestTs ${opts.ingestTs} is not µs since epoch`);
  }
  const max = opts.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
  if (!Number.isSafeInteger(max) || max <= 0) {
    throw new TypeError(`Cannot validate events: maxFieldBytes ${max} is not a positive integer`);
  }
  return max;
}

function checkValue(spec: FieldSpec, v: unknown, maxBytes: number): unknown {
  const name = spec.name;
  switch (spec.type) {
    case "int":
      if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
      throw new EventValidationError(name, `not a non-negative integer: ${shown(v)}`);
    case "ts":
      return checkTime(name, v);
    case "bool":
      if (typeof v === "boolean") return v;
      throw new EventValidationError(name, `not true or false: ${shown(v)}`);
    case "kind":
      if (typeof v === "string" && KINDS.has(v)) return v as EventKind;
      throw new EventValidationError(
        name,
        `not an event kind: ${shown(v)} (one of ${EVENT_KINDS.join(", ")})`,
      );
    case "string":
      if (typeof v !== "string") throw new EventValidationError(name, `not a string: ${shown(v)}`);
      checkText(name, v, "");
      if (utf8Exceeds(v, maxBytes)) throw tooLarge(name, maxBytes);
      return v;
    case "strings":
      return checkStrings(name, v, maxBytes);
    case "json": {
      if (!isPlainObject(v)) {
        throw new EventValidationError(name, `not a JSON object (got ${describeType(v)})`);
      }
      const budget = { left: maxBytes, max: maxBytes };
      checkJson(name, v, "", 0, budget);
      return v;
    }
  }
}

function checkTime(name: string, v: unknown): number {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return v;
    throw new EventValidationError(name, `not an integer of µs since the epoch: ${shown(v)}`);
  }
  if (typeof v !== "string") {
    throw new EventValidationError(name, `not an RFC 3339 time or µs since the epoch: ${shown(v)}`);
  }
  try {
    return parseRfc3339Micros(v);
  } catch (e) {
    if (e instanceof SyntaxError || e instanceof RangeError) {
      throw new EventValidationError(name, e.message);
    }
    throw e;
  }
}

function checkStrings(name: string, v: unknown, maxBytes: number): (string | null)[] {
  if (!Array.isArray(v)) {
    throw new EventValidationError(name, `not an array of strings (got ${describeType(v)})`);
  }
  let left = maxBytes;
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    if (item === null) continue;
    if (typeof item !== "string") {
      throw new EventValidationError(name, `element ${i} is not a string or null: ${shown(item)}`);
    }
    checkText(name, item, `element ${i} `);
    left -= utf8Length(item);
    if (left < 0) throw tooLarge(name, maxBytes);
  }
  return v as (string | null)[];
}

function checkJson(
  name: string,
  v: unknown,
  path: string,
  depth: number,
  budget: { left: number; max: number },
): void {
  if (depth > MAX_JSON_DEPTH) {
    throw new EventLimitError(name, `nested deeper than ${MAX_JSON_DEPTH} levels at ${path}`);
  }
  if (v === null || typeof v === "boolean") return;
  if (typeof v === "number") {
    if (Number.isFinite(v)) return;
    throw new EventValidationError(name, `not a finite number at ${path || "."}`);
  }
  if (typeof v === "string") {
    checkText(name, v, `at ${path || "."} `);
    budget.left -= utf8Length(v);
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) checkJson(name, v[i], `${path}[${i}]`, depth + 1, budget);
  } else if (isPlainObject(v)) {
    for (const key of Object.keys(v)) {
      const at = `${path}.${key}`;
      checkText(name, key, `key ${at} `);
      budget.left -= utf8Length(key);
      checkJson(name, v[key], at, depth + 1, budget);
    }
  } else {
    throw new EventValidationError(name, `not a JSON value at ${path || "."}: ${describeType(v)}`);
  }
  if (budget.left < 0) throw tooLarge(name, budget.max);
}

/** Lone surrogates would turn into U+FFFD on the way to UTF-8 and break the hash round trip. */
function checkText(name: string, s: string, where: string): void {
  if (s.isWellFormed()) return;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) break;
  }
  throw new EventValidationError(
    name,
    `${where}is not valid Unicode: lone surrogate at index ${i}`,
  );
}

/** Exact UTF-8 length; surrogate pairs count 4 bytes, as two units of 2 each. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

function utf8Exceeds(s: string, max: number): boolean {
  // Each UTF-16 unit is 1 to 3 bytes, so the length alone settles most cases without a scan.
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return utf8Length(s) > max;
}

function tooLarge(name: string, max: number): EventLimitError {
  return new EventLimitError(name, `larger than the limit of ${max} bytes`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/** A value for an error message, cut short: inputs can be megabytes. */
function shown(v: unknown): string {
  if (typeof v === "string") {
    return v.length > 64 ? JSON.stringify(v.slice(0, 64)) + "…" : JSON.stringify(v);
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return describeType(v);
}
