/**
 * The position of a pgAudit source, as stored with each batch: for every log file it knows,
 * the file's fingerprint and the byte offset just past the last record handed to the store
 * (and the line number there, for messages). One file is not enough: after a crash, the file
 * being read, the one rotated away a moment ago and the new one may all have unread bytes, and
 * the old files that were read to their end must not be read again.
 *
 * The set is bounded: entries of files that are gone are dropped by the tailer, and past
 * `MAX_FILES` the least recently modified finished ones are dropped, their newest modification
 * time kept as `floor` — an unknown file not modified after it is taken as already read.
 *
 * Encoded as compact JSON: `{"v":1,"floor":ms,"files":[{"f","n","o","l","s","m","p"}]}`.
 */

/** What the position knows of one file. */
export interface FileEntry {
  /** Fingerprint hash (`fingerprint.ts`) and how many leading bytes it covers. */
  hash: string;
  length: number;
  /** Offset just past the last record stored: reading resumes here. */
  offset: number;
  /** Line number at `offset`. */
  line: number;
  /** Size when last seen, for the alarm when a file goes before it was read to its end. */
  size: number;
  /** Modification time when last seen, ms since the epoch. */
  mtime: number;
  /** File name when last seen (without the directory), for messages. */
  name: string;
}

/** Every file the source knows, in the order it found them. */
export interface TailState {
  files: FileEntry[];
  /** Unknown files modified at or before this time (ms) were read before; 0 for none. */
  floor: number;
}

/** Most files a position remembers. */
export const MAX_FILES = 256;

/** The position as the string a batch carries. */
export function encodePosition(state: TailState): string {
  const files = state.files.map((e) => ({
    f: e.hash,
    n: e.length,
    o: e.offset,
    l: e.line,
    s: e.size,
    m: e.mtime,
    p: e.name,
  }));
  return JSON.stringify({ v: 1, floor: state.floor, files });
}

/** Reads a stored position back; undefined gives the empty state of a first start. */
export function decodePosition(text: string | undefined): TailState {
  if (text === undefined) return { files: [], floor: 0 };
  const bad = (why: string): SyntaxError =>
    new SyntaxError(`Cannot read the stored pgAudit source position: ${why}`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof o !== "object" || o === null || (o as { v?: unknown }).v !== 1) {
    throw bad(`not a version 1 position: ${text.slice(0, 80)}`);
  }
  const { floor, files } = o as { floor?: unknown; files?: unknown };
  if (!isCount(floor) || !Array.isArray(files)) throw bad("no floor or files");
  const out: FileEntry[] = files.map((f: Record<string, unknown>, i: number) => {
    const { f: hash, n, o: offset, l, s, m, p } = f ?? {};
    if (
      typeof hash !== "string" || !/^[0-9a-f]{32}$/.test(hash) || !isCount(n) ||
      !isCount(offset) || !isCount(l) || !isCount(s) || !isCount(m) || typeof p !== "string"
    ) {
      throw bad(`file ${i} is malformed: ${JSON.stringify(f).slice(0, 200)}`);
    }
    return { hash, length: n, offset, line: l, size: s, mtime: m, name: p };
  });
  return { files: out, floor };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Drops the least recently modified entries not in `keep` while there are more than
 * `MAX_FILES`, raising `floor` to cover them. Returns the dropped ones.
 */
export function boundState(state: TailState, keep: ReadonlySet<string>): FileEntry[] {
  if (state.files.length <= MAX_FILES) return [];
  const candidates = state.files.filter((e) => !keep.has(e.hash))
    .sort((a, b) => a.mtime - b.mtime);
  const dropped = candidates.slice(0, state.files.length - MAX_FILES);
  const gone = new Set(dropped);
  state.files = state.files.filter((e) => !gone.has(e));
  for (const e of dropped) state.floor = Math.max(state.floor, e.mtime);
  return dropped;
}
