/**
 * A streaming POSIX ustar writer: turns a directory tree into one `.tar` byte stream, so that
 * an air-gapped bundle can be downloaded as a single file. It writes only what a bundle holds —
 * directories and regular files — with 512-byte headers, the header checksum, and the `prefix`
 * field for paths over 100 bytes. File contents are read in chunks as the consumer pulls, so a
 * bundle of any size passes through a bounded amount of memory. Entries come in sorted order,
 * with fixed owner (0/0) and the files' own modes and mtimes, so the same tree makes the same
 * archive. Symlinks and other special files are refused: a bundle never has them, and following
 * one could put a file from outside the tree into the archive.
 *
 * @example
 * return new Response(tarStream(bundleDir), { headers: { "Content-Type": "application/x-tar" } });
 */

const BLOCK = 512;
/** 11 octal digits: the largest size a plain ustar header can state. */
const MAX_SIZE = 0o77777777777;
const CHUNK = 64 * 1024;
const enc = new TextEncoder();

/** One entry of the archive: a path relative to the root, `/`-separated. */
interface Entry {
  path: string;
  dir: boolean;
  mode: number;
  mtimeS: number;
  size: number;
}

/** Writes `value` as zero-padded octal of `width - 1` digits and a NUL. */
function octal(buf: Uint8Array, at: number, width: number, value: number): void {
  const s = Math.floor(value).toString(8).padStart(width - 1, "0");
  if (s.length > width - 1) {
    throw new RangeError(
      `Cannot write a tar header: ${value} does not fit ${width - 1} octal digits`,
    );
  }
  buf.set(enc.encode(s), at);
  buf[at + width - 1] = 0;
}

/** Splits a path into ustar `prefix` (≤ 155 bytes) and `name` (≤ 100 bytes) at a `/`. */
function splitName(path: string): { prefix: string; name: string } {
  const bytes = enc.encode(path);
  if (bytes.length <= 100) return { prefix: "", name: path };
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i), name = path.slice(i + 1);
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100 && name !== "") {
      return { prefix, name };
    }
  }
  throw new RangeError(`Cannot write ${path} to a tar: the path does not fit a ustar header`);
}

/** The 512-byte ustar header of one entry. */
export function tarHeader(e: Entry): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const { prefix, name } = splitName(e.dir ? `${e.path}/` : e.path);
  h.set(enc.encode(name), 0);
  octal(h, 100, 8, e.mode & 0o7777);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (e.size > MAX_SIZE) throw new RangeError(`Cannot write ${e.path} to a tar: over 8 GiB`);
  octal(h, 124, 12, e.dir ? 0 : e.size);
  octal(h, 136, 12, e.mtimeS);
  h[156] = e.dir ? 0x35 /* '5' */ : 0x30; /* '0' */
  h.set(enc.encode("ustar\u000000"), 257);
  h.set(enc.encode("root"), 265);
  h.set(enc.encode("root"), 297);
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.set(enc.encode(prefix), 345);
  // The checksum is computed with its own field as eight spaces, then stored as 6 digits,
  // NUL, space — the form every tar accepts.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** The tree under `root`, directories before their contents, names sorted. */
async function walk(root: string, rel = ""): Promise<Entry[]> {
  const names: string[] = [];
  for await (const d of Deno.readDir(rel ? `${root}/${rel}` : root)) names.push(d.name);
  names.sort();
  const out: Entry[] = [];
  for (const n of names) {
    const path = rel ? `${rel}/${n}` : n;
    const info = await Deno.lstat(`${root}/${path}`);
    const base = { path, mode: info.mode ?? 0o644, mtimeS: (info.mtime?.getTime() ?? 0) / 1000 };
    if (info.isDirectory) {
      out.push({ ...base, dir: true, size: 0 });
      out.push(...await walk(root, path));
    } else if (info.isFile) {
      out.push({ ...base, dir: false, size: info.size });
    } else {
      throw new TypeError(`Cannot write ${path} to a tar: not a regular file or directory`);
    }
  }
  return out;
}

/** Header, contents and padding of every entry, then the two zero blocks that end a tar. */
async function* tarChunks(root: string): AsyncGenerator<Uint8Array> {
  for (const e of await walk(root)) {
    yield tarHeader(e);
    if (e.dir) continue;
    using f = await Deno.open(`${root}/${e.path}`, { read: true });
    let left = e.size;
    while (left > 0) {
      const buf = new Uint8Array(Math.min(CHUNK, left));
      const n = await f.read(buf);
      if (n === null) {
        throw new Error(`Cannot write ${e.path} to a tar: it shrank while being read`);
      }
      left -= n;
      yield buf.subarray(0, n);
    }
    const pad = (BLOCK - (e.size % BLOCK)) % BLOCK;
    if (pad > 0) yield new Uint8Array(pad);
  }
  yield new Uint8Array(2 * BLOCK);
}

/**
 * The directory tree under `root` as a ustar stream (paths relative to `root`). `onClose` runs
 * once when the stream ends (no argument), fails or is cancelled (the error or the cancel
 * reason) — where a caller removes a temp tree. A plain `ReadableStream.from(generator)` would
 * skip a generator's `finally` when cancelled before the first read.
 */
export function tarStream(
  root: string,
  opts: { onClose?: (error?: unknown) => Promise<void> | void } = {},
): ReadableStream<Uint8Array> {
  const chunks = tarChunks(root);
  let closed = false;
  const close = async (error?: unknown): Promise<void> => {
    if (closed) return;
    closed = true;
    await opts.onClose?.(error);
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctrl): Promise<void> {
      try {
        const r = await chunks.next();
        if (r.done) {
          await close();
          ctrl.close();
        } else ctrl.enqueue(r.value);
      } catch (e) {
        await close(e);
        ctrl.error(e);
      }
    },
    async cancel(reason): Promise<void> {
      try {
        await chunks.return(undefined);
      } finally {
        await close(reason ?? new Error("the reader cancelled the stream"));
      }
    },
  });
}
