/**
 * Stores for the integrity tests and the ways a disk or a person damages them: a log of several
 * sealed segments (compressed, as `serve` stores them, each of several blocks, or left
 * uncompressed), and a byte flipped inside a sealed segment's records, a sealed segment cut
 * short, or one deleted.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import { decodeBlockTable } from "../../../daemon/store/segment_compress.ts";
import { Store } from "../../../daemon/store/store.ts";
import { patchFile, segmentPaths, testEvent } from "../../support/store.ts";

/** Events per batch: each batch fills a segment past its size limit, so each is sealed. */
const PER_SEGMENT = 2_600;

/** A batch of ~2.6 MiB: events of about 1 KiB, their text varied so that blocks stay blocks. */
function batch(from: number): NewEvent[] {
  const out: NewEvent[] = [];
  for (let i = from; i < from + PER_SEGMENT; i++) {
    const words = Array.from({ length: 120 }, (_, k) => ((i * 7919 + k * 104_729) % 99_991));
    out.push(testEvent(i, { statement: `SELECT ${words.join(", ")} FROM public.t${i % 5}` }));
  }
  return out;
}

/**
 * Fills `dataDir` with `sealed` sealed segments (each over 2 MiB, so a compressed one holds three
 * blocks) and an active one, signs a checkpoint, and closes the store. Returns the log's size.
 */
export async function fillStore(
  dataDir: string,
  opts: { sealed: number; compressed: boolean },
): Promise<number> {
  const store = await Store.open(dataDir, {
    checkpointIntervalMs: 0,
    maxSegmentBytes: 2 * 1024 * 1024,
    compressSealed: opts.compressed,
  });
  try {
    for (let s = 0; s < opts.sealed; s++) {
      await store.append({ source: "test", events: batch(s * PER_SEGMENT) });
    }
    await store.append({ source: "test", events: [testEvent(opts.sealed * PER_SEGMENT)] });
    await store.compressed();
    return store.size;
  } finally {
    await store.close();
  }
}

/** The sealed segment files of a data directory, in order (the active one left out). */
export async function sealedSegments(dataDir: string): Promise<string[]> {
  return (await segmentPaths(dataDir)).slice(0, -1);
}

/**
 * Flips one byte in the middle of the first block of a sealed segment's records: in the zstd
 * data of a compressed one (not its table, not its last block), in an event of an uncompressed
 * one. Only reading the records finds it.
 */
export async function flipByte(path: string): Promise<void> {
  const file = await Deno.readFile(path);
  let at: number;
  if (path.endsWith(".vsegz")) {
    const b = decodeBlockTable(file).blocks[0]!;
    at = b.compOffset + Math.floor(b.compLength / 2);
  } else {
    at = Math.floor(file.length / 3);
  }
  await patchFile(path, at, new Uint8Array([file[at]! ^ 0x20]));
}

/** Cuts a segment file to `share` of its length. */
export async function cutShort(path: string, share = 0.5): Promise<void> {
  await Deno.chmod(path, 0o644);
  const size = (await Deno.stat(path)).size;
  await Deno.truncate(path, Math.floor(size * share));
}

/** Deletes a segment file. */
export async function deleteSegment(path: string): Promise<void> {
  await Deno.remove(path);
}
