/**
 * Where an exported event's file goes: Hive-style `source=<name>/date=<yyyy-mm-dd>/` keys, so
 * that DuckDB, Trino, Spark or Athena read a directory (or bucket) of exports as one table
 * partitioned by source and UTC day of event time, and `<first>-<last>.parquet` names, the seqs
 * of the file's first and last rows. Values are escaped as Hive does (`%XX` for each UTF-8 byte
 * of anything but letters, digits, `_`, `-` and an inner `.`), which DuckDB decodes back to the
 * source's name; a name can therefore never climb out of its directory.
 */

/** A partition: one source's events of one UTC day. */
export interface Partition {
  source: string;
  /** `yyyy-mm-dd`, UTC, of the events' `ts`. */
  date: string;
}

const US_PER_DAY = 86_400_000_000;
const SAFE = /^[A-Za-z0-9_-]$/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The UTC calendar day of a time in µs since the epoch, as `yyyy-mm-dd`. */
export function utcDate(tsMicros: number): string {
  const day = Math.floor(tsMicros / US_PER_DAY);
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** The partition of an event. */
export function partitionOf(ev: { source: string; ts: number }): Partition {
  return { source: ev.source, date: utcDate(ev.ts) };
}

/** The relative directory of a partition: `source=<escaped>/date=<yyyy-mm-dd>`. */
export function partitionDir(p: Partition): string {
  return `source=${escapeHiveValue(p.source)}/date=${p.date}`;
}

/** The file name for rows with seqs `first` to `last`: zero-padded so names sort by seq. */
export function parquetFileName(first: number, last: number): string {
  return `${String(first).padStart(12, "0")}-${String(last).padStart(12, "0")}.parquet`;
}

/** A bundle file path taken apart; undefined when it is not `source=…/date=…/<a>-<b>.parquet`. */
export function parsePartitionPath(
  path: string,
): (Partition & { firstSeq: number; lastSeq: number }) | undefined {
  const m = /^source=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/(\d+)-(\d+)\.parquet$/.exec(path);
  if (!m) return undefined;
  const source = unescapeHiveValue(m[1]!);
  if (source === undefined || escapeHiveValue(source) !== m[1]) return undefined;
  const firstSeq = Number(m[3]), lastSeq = Number(m[4]);
  if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq)) return undefined;
  return { source, date: m[2]!, firstSeq, lastSeq };
}

/** Escapes a partition value as Hive does; a leading `.` is escaped too (no hidden names). */
export function escapeHiveValue(value: string): string {
  let out = "";
  for (const ch of value) {
    if (SAFE.test(ch) || (ch === "." && out !== "")) out += ch;
    else {for (const b of utf8.encode(ch)) {
        out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
      }}
  }
  return out;
}

/** Undoes `escapeHiveValue`; undefined for a malformed escape or bytes that are not UTF-8. */
export function unescapeHiveValue(text: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else return undefined; // escaped values are ASCII
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}
