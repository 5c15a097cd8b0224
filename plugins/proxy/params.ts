/**
 * Bind parameters as an event shows them: text-format values as they were sent, binary ones
 * decoded to PostgreSQL's text form where the type is one whose binary layout is fixed and
 * simple (integers, floats, bool, text types, bytea, uuid, oid, date and timestamps, json and
 * jsonb), and as hex `\x…` otherwise — never guessed. NULL stays null.
 */

const decoder = new TextDecoder();
/** Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const PG_EPOCH_DAYS = 10_957;

const TEXT_TYPES = new Set([25, 1043, 1042, 19, 114, 142, 705, 18]);

/** `\x` and the bytes in hex, as bytea_output = hex prints them. */
export function hex(bytes: Uint8Array): string {
  let out = "\\x";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * One parameter as text: `format` 0 is text, 1 binary; `oid` 0 when unknown. A string is a
 * text-format value decoded already.
 */
export function paramText(
  value: Uint8Array | string | null,
  format: number,
  oid: number,
): string | null {
  if (value === null || typeof value === "string") return value;
  if (format === 0) return decoder.decode(value);
  return binaryText(value, oid) ?? hex(value);
}

/** The text form of a binary value of a known type, or undefined. */
function binaryText(v: Uint8Array, oid: number): string | undefined {
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const n = v.length;
  switch (oid) {
    case 16: // bool
      return n === 1 ? (v[0] ? "t" : "f") : undefined;
    case 21: // int2
      return n === 2 ? String(view.getInt16(0)) : undefined;
    case 23: // int4
      return n === 4 ? String(view.getInt32(0)) : undefined;
    case 26: // oid
      return n === 4 ? String(view.getUint32(0)) : undefined;
    case 20: // int8
      return n === 8 ? String(view.getBigInt64(0)) : undefined;
    case 700: // float4
      return n === 4 ? float4Text(view.getFloat32(0)) : undefined;
    case 701: // float8
      return n === 8 ? floatText(view.getFloat64(0)) : undefined;
    case 17: // bytea
      return hex(v);
    case 2950: // uuid
      return n === 16 ? uuidText(v) : undefined;
    case 3802: // jsonb: version 1, then the text
      return n >= 1 && v[0] === 1 ? decoder.decode(v.subarray(1)) : undefined;
    case 1082: // date: days since 2000-01-01
      return n === 4 ? dateText(view.getInt32(0)) : undefined;
    case 1114: // timestamp
      return n === 8 ? timestampText(view.getBigInt64(0), "") : undefined;
    case 1184: // timestamptz, shown in UTC
      return n === 8 ? timestampText(view.getBigInt64(0), "+00") : undefined;
    case 1700: // numeric
      return numericText(view);
    default:
      return TEXT_TYPES.has(oid) ? decoder.decode(v) : undefined;
  }
}

function floatText(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return String(x);
}

/** The shortest decimal that reads back as the same float4, as PostgreSQL prints it. */
function float4Text(x: number): string {
  if (!Number.isFinite(x)) return floatText(x);
  for (let p = 1; p < 9; p++) {
    const shorter = Number(x.toPrecision(p));
    if (Math.fround(shorter) === x) return String(shorter);
  }
  return String(Number(x.toPrecision(9)));
}

/**
 * A binary numeric as PostgreSQL prints it (`numeric_send`): digit count, weight (of the first
 * base-10000 digit), sign, display scale, then the base-10000 digits.
 */
function numericText(view: DataView): string | undefined {
  if (view.byteLength < 8) return undefined;
  const ndigits = view.getInt16(0);
  const weight = view.getInt16(2);
  const sign = view.getUint16(4);
  const dscale = view.getUint16(6);
  if (ndigits < 0 || view.byteLength !== 8 + 2 * ndigits) return undefined;
  if (sign === 0xc000) return "NaN";
  if (sign === 0xd000) return "Infinity";
  if (sign === 0xf000) return "-Infinity";
  if (sign !== 0 && sign !== 0x4000) return undefined;
  const digit = (i: number): number => (i >= 0 && i < ndigits ? view.getInt16(8 + 2 * i) : 0);
  for (let i = 0; i < ndigits; i++) if (digit(i) < 0 || digit(i) > 9999) return undefined;
  let whole = "";
  for (let i = 0; i <= weight; i++) {
    whole += i === 0 ? String(digit(i)) : String(digit(i)).padStart(4, "0");
  }
  if (whole === "") whole = "0";
  let fraction = "";
  for (let i = weight + 1; fraction.length < dscale; i++) {
    fraction += String(digit(i)).padStart(4, "0");
  }
  const text = whole + (dscale > 0 ? "." + fraction.slice(0, dscale) : "");
  const zero = ndigits === 0 || /^[0.]*$/.test(text);
  return sign === 0x4000 && !zero ? "-" + text : text;
}

function uuidText(v: Uint8Array): string {
  const h = hex(v).slice(2);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function dateText(days: number): string | undefined {
  if (days === 0x7fffffff) return "infinity";
  if (days === -0x80000000) return "-infinity";
  const d = new Date((days + PG_EPOCH_DAYS) * 86_400_000);
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) return undefined;
  return d.toISOString().slice(0, 10);
}

function timestampText(micros: bigint, zone: string): string | undefined {
  if (micros === 0x7fffffffffffffffn) return "infinity";
  if (micros === -0x8000000000000000n) return "-infinity";
  const unix = micros + PG_EPOCH_MICROS;
  const ms = unix / 1000n - (unix % 1000n < 0n ? 1n : 0n);
  const d = new Date(Number(ms));
  const y = d.getUTCFullYear();
  if (!Number.isFinite(d.getTime()) || y < 1 || y > 9999) return undefined;
  const frac = ((unix % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const base = d.toISOString().slice(0, 19).replace("T", " ");
  const fraction = frac === 0n ? "" : "." + frac.toString().padStart(6, "0").replace(/0+$/, "");
  return base + fraction + zone;
}
