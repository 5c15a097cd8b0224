/**
 * Where the log starts once retention has deleted its oldest segments: `retained.json` in the
 * data directory holds the seq of the first event still on disk, the chain hash before it and the
 * Merkle compact range (frontier) of every leaf before it. `vigil verify` starts from there
 * instead of from the empty log. The file needs no signature of its own: every checkpoint signed
 * after the deletion is checked against the frontier extended by the events on disk, and the
 * first segment's header against the chain hash, so a forged start fails like any altered event.
 * Written atomically (temporary file, fsync, rename, directory fsync) before the segments go.
 */

import { hex } from "./keys.ts";
import { MerkleFrontier, type MerkleFrontierJSON } from "./merkle.ts";

export const RETAINED_FILE = "retained.json";

/** The start of a log whose head was deleted by retention. */
export interface RetainedStart {
  /** Seq of the first event kept; every event before it was deleted. */
  from_seq: number;
  /** Chain hash after seq `from_seq - 1` (hex). */
  chain: string;
  /** Compact range of leaves [0, from_seq). */
  frontier: MerkleFrontierJSON;
}

/** The retained start of `dataDir`, or null when nothing was ever deleted. */
export async function readRetainedStart(dataDir: string): Promise<RetainedStart | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dataDir}/${RETAINED_FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let v: RetainedStart;
  try {
    v = JSON.parse(text);
    const f = MerkleFrontier.fromJSON(v.frontier);
    if (
      !Number.isSafeInteger(v.from_seq) || f.size !== v.from_seq || !/^[0-9a-f]{64}$/.test(v.chain)
    ) {
      throw new Error("fields do not agree");
    }
  } catch (e) {
    throw new SyntaxError(`${RETAINED_FILE} is malformed: ${(e as Error).message}`);
  }
  return v;
}

/** Replaces the retained start, durably. */
export async function writeRetainedStart(
  dataDir: string,
  start: { fromSeq: number; chain: Uint8Array; frontier: MerkleFrontier },
): Promise<void> {
  const body: RetainedStart = {
    from_seq: start.fromSeq,
    chain: hex(start.chain),
    frontier: start.frontier.toJSON(),
  };
  const tmp = `${dataDir}/.${RETAINED_FILE}.tmp`;
  {
    using f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
    const bytes = new TextEncoder().encode(JSON.stringify(body) + "\n");
    for (let at = 0; at < bytes.length;) at += await f.write(bytes.subarray(at));
    await f.sync();
  }
  await Deno.rename(tmp, `${dataDir}/${RETAINED_FILE}`);
  using dir = await Deno.open(dataDir, { read: true });
  await dir.sync();
}
