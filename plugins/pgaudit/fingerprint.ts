/**
 * A log file's identity: SHA-256 of its first bytes (up to `FINGERPRINT_BYTES`), not its name or
 * inode. Names move on rename rotation and inodes are reused; the first kilobyte of a PostgreSQL
 * log starts with a time to the millisecond and a pid, so two files share it only when they are
 * the same content — which is exactly what a copy made by copytruncate is, and what must be
 * read on from where the original was left.
 *
 * A file shorter than `FINGERPRINT_BYTES` is fingerprinted over what it has (`length` says how
 * much), once it has a whole line; as it grows, the identity is extended once its old prefix has
 * been checked to match.
 */

import { createHash } from "node:crypto";

/** Bytes the fingerprint covers once a file has that many. */
export const FINGERPRINT_BYTES = 1024;

/** A fingerprint and how many leading bytes it covers. */
export interface Fingerprint {
  /** Hex of the first 16 bytes of SHA-256(first `length` bytes). */
  hash: string;
  length: number;
}

/** The fingerprint of `bytes` (the file's first bytes, at most `FINGERPRINT_BYTES`). */
export function fingerprintOf(bytes: Uint8Array): Fingerprint {
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 32);
  return { hash, length: bytes.length };
}

/** Reads up to `n` bytes from the start of `file` (fewer when it is shorter). */
export async function readHead(file: Deno.FsFile, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  await file.seek(0, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await file.read(buf.subarray(got));
    if (r === null || r === 0) break;
    got += r;
  }
  return buf.subarray(0, got);
}

/**
 * The fingerprint of an open file of `size` bytes, with the hashes of its shorter prefixes
 * asked for in `prefixes` (the lengths known fingerprints of short files cover). `settled` is
 * false while the file has neither `FINGERPRINT_BYTES` nor one whole line: a few bytes of a
 * first line (a log time to the minute) are shared by every file of that minute, so they would
 * not tell files apart; a whole first line (time to the millisecond, pid, session, line number,
 * message) does.
 */
export async function fingerprintFile(
  file: Deno.FsFile,
  size: number,
  prefixes: Iterable<number> = [],
): Promise<{ full: Fingerprint; prefix: Map<number, string>; settled: boolean }> {
  const head = await readHead(file, Math.min(size, FINGERPRINT_BYTES));
  const prefix = new Map<number, string>();
  for (const n of prefixes) {
    if (n > 0 && n < head.length) prefix.set(n, fingerprintOf(head.subarray(0, n)).hash);
  }
  const full = fingerprintOf(head);
  prefix.set(full.length, full.hash);
  return { full, prefix, settled: head.length >= FINGERPRINT_BYTES || head.includes(0x0a) };
}
