/**
 * The data directory's format version: one line, `vigil-data 4`, in `FORMAT`. Each file format
 * inside carries its own version too (segment magic `VIGILSG1`, `vigil-checkpoint v1`); this one
 * says which layout of the directory as a whole a release wrote, so that an older release
 * refuses a directory a newer one has changed instead of misreading it, and a newer release
 * knows what it must convert. A directory without the file predates it and is format 1.
 *
 * @example
 * await ensureDataFormat("/var/lib/vigil"); // writer: records the format, or refuses a newer one
 * await checkDataFormat("/var/lib/vigil");  // readers: refuse a newer one, write nothing
 */

import { syncDir } from "./segment_writer.ts";

/**
 * The format this release writes and the newest it reads. Format 2 ends every group commit with
 * a commit frame (`frame.ts`), which format 1 readers would take for damage. Format 3 keeps the
 * Merkle node files of levels 6 and up only (`merkle_levels.ts`: the rest is derived from the
 * log), where a format 2 reader would look for `level-00.bin`. Format 4 compresses sealed
 * segments with each block's event time span in the block table (`VIGILSZ2`,
 * `segment_compress.ts`), whose magic a format 3 reader would take for damage. It reads formats
 * 1 to 3 as they are (nothing reads a format 2 directory's lower levels; `VIGILSZ1` segments are
 * read as they are), and the writer moves a directory to 4 when it opens it, removing those files.
 */
export const DATA_FORMAT = 4;
export const FORMAT_FILE = "FORMAT";
const LINE = /^vigil-data ([1-9][0-9]{0,5})\n?$/;

/** The data directory is in a format this release cannot read, or its FORMAT file is garbage. */
export class DataFormatError extends Error {
  override name = "DataFormatError";
}

/** The format recorded in `dataDir`, or null when it has no FORMAT file (format 1 then). */
export async function readDataFormat(dataDir: string): Promise<number | null> {
  const path = `${dataDir}/${FORMAT_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const m = LINE.exec(text);
  if (!m) {
    throw new DataFormatError(
      `${path}: not a data format line (want "vigil-data N", got ${
        JSON.stringify(text.slice(0, 40))
      })`,
    );
  }
  return Number(m[1]);
}

/** Throws DataFormatError when `dataDir` was written in a format newer than this release's. */
export async function checkDataFormat(dataDir: string): Promise<void> {
  const format = await readDataFormat(dataDir);
  if (format !== null && format > DATA_FORMAT) {
    throw new DataFormatError(
      `${dataDir} is in data format ${format}, and this vigil reads format ${DATA_FORMAT} at ` +
        "most: a newer release wrote it. Install that release or a later one; going back to an " +
        "older release is not supported (the data is untouched)",
    );
  }
}

/**
 * For the writer, under its lock, before it writes anything: refuses a newer format, and
 * records this release's format in a directory that has none (a new one, or one from before the
 * file existed) or an older one, whose records it reads as they are.
 */
export async function ensureDataFormat(dataDir: string): Promise<void> {
  await checkDataFormat(dataDir);
  if (await readDataFormat(dataDir) === DATA_FORMAT) return;
  const path = `${dataDir}/${FORMAT_FILE}`;
  const tmp = `${path}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(`vigil-data ${DATA_FORMAT}\n`));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  await syncDir(dataDir);
}
