/**
 * Where an exported event's file goes. Files hold one source's events of one UTC day of event
 * time and sit under one Hive key, `date=<yyyy-mm-dd>/`, named `<first>-<last>.parquet` after
 * the seqs of their first and last rows (unique: a seq is in one file only). In a bundle they
 * sit under `events/` (`BUNDLE_DATA_DIR`), beside the manifest; in an export target at the
 * target's prefix, beside `_vigil/`.
 *
 * Why no `source=` key: a Hive key is a column every reader adds to the table, and `source` is
 * already a column of the files. DuckDB and Trino let the folder's value win, but pyarrow's
 * dataset reader refuses the table (`Unable to merge: Field source has incompatible types`:
 * the files say dictionary, the folder string — or int32 for a source named `2024`), and Spark
 * types the key by guessing from the folder names. `date` is in no file, so every reader adds
 * it without a conflict, and `source` keeps the one type the files give it. Readers still skip
 * a source's files: each file holds one source, so its row groups' statistics rule it out.
 *
 * Layout 1 (bundle version 1, before this change) put files at `source=<name>/date=<d>/` at the
 * top of the bundle or target, the name escaped as Hive does (`%XX` for each UTF-8 byte of
 * anything but letters, digits, `_`, `-` and an inner `.`); `parseBundlePath` still reads it so
 * that those bundles verify.
 */

/** A partition: one source's events of one UTC day. */
export interface Partition {
  source: string;
  /** `yyyy-mm-dd`, UTC, of the events' `ts`. */
  date: string;
}

/** The bundle's directory of Parquet files: a Hive table of its own, nothing else in it. */
export const BUNDLE_DATA_DIR = "events";

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

/** The file name for rows with seqs `first` to `last`: zero-padded so names sort by seq. */
export function parquetFileName(first: number, last: number): string {
  return `${String(first).padStart(12, "0")}-${String(last).padStart(12, "0")}.parquet`;
}

/**
 * The path of a partition's file in a bundle of `version` 2 (`events/date=<d>/<a>-<b>.parquet`)
 * or 1 (`source=<escaped>/date=<d>/<a>-<b>.parquet`).
 */
export function bundleFilePath(
  p: Partition,
  seqs: { first: number; last: number },
  version: 1 | 2 = 2,
): string {
  const name = `date=${p.date}/${parquetFileName(seqs.first, seqs.last)}`;
  return version === 1
    ? `source=${escapeHiveValue(p.source)}/${name}`
    : `${BUNDLE_DATA_DIR}/${name}`;
}

/**
 * The key of a bundle file in an export target, relative to its prefix: the path without
 * `events/`, so that the target's top is the table; a layout-1 path as it is.
 */
export function archiveKey(path: string): string {
  const head = `${BUNDLE_DATA_DIR}/`;
  return path.startsWith(head) ? path.slice(head.length) : path;
}

/** A bundle file path taken apart. `source` is in layout-1 paths only. */
export interface BundlePath {
  source?: string;
  date: string;
  firstSeq: number;
  lastSeq: number;
}

/** Parses a bundle file path of the manifest's `version`; undefined when malformed. */
export function parseBundlePath(path: string, version: 1 | 2): BundlePath | undefined {
  const m = version === 1
    ? /^source=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/(\d+)-(\d+)\.parquet$/.exec(path)
    : /^events\/()date=(\d{4}-\d{2}-\d{2})\/(\d+)-(\d+)\.parquet$/.exec(path);
  if (!m) return undefined;
  const date = m[2]!, firstSeq = Number(m[3]), lastSeq = Number(m[4]);
  if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq)) return undefined;
  if (version === 2) {
    // One spelling per file: the name this module writes, so that no two paths mean one file.
    const p = { source: "", date };
    return path === bundleFilePath(p, { first: firstSeq, last: lastSeq })
      ? { date, firstSeq, lastSeq }
      : undefined;
  }
  const source = unescapeHiveValue(m[1]!);
  if (source === undefined || escapeHiveValue(source) !== m[1]) return undefined;
  return { source, date, firstSeq, lastSeq };
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
