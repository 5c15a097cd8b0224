/**
 * Positioned reads of a file the store reads in parts (a segment's frames, a compressed
 * segment's block table and blocks, the Merkle node files): up to `length` bytes at `offset`,
 * shorter only where the file ends.
 */

/** Reads up to `length` bytes at `offset`; shorter only at the end of the file. */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * `readAt` without awaiting: for the small reads of single events (a block of the sparse map, a
 * compressed block), where a round trip through the event loop per read cost more than the read
 * and let other work in between, which showed as the slowest searches. Pages are read straight
 * from the page cache, as SQLite reads its own.
 */
export function readAtSync(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}
