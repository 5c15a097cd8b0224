/**
 * The checkpoints a verification reads again when the log claims one it did not find. A
 * verification reads the checkpoint file first (every checkpoint it checks is then within the log
 * it reads next), then the log; the writer adds a checkpoint to the file before any commit claims
 * it. So a checkpoint signed while the log is read — a 100M-event verification takes minutes — is
 * claimed in the log but missing from the file as first read, which is not the same as a
 * checkpoint deleted.
 *
 * Promises: the checkpoints read first must still open the file, unchanged, and the ones added
 * since must carry valid signatures by the log's keys; otherwise it names what changed. Their
 * roots are not checked here: the next verification reads them first and checks them.
 */

import { type Checkpoint, CHECKPOINTS_FILE, readCheckpoints } from "./checkpoint.ts";
import { resolveKeyChain } from "./key_chain.ts";
import { readHandovers } from "./key_handover.ts";

/** The largest size signed in the file now, or what is wrong with the file since. */
async function signedSince(opts: {
  file: string;
  keysDir: string;
  anchor: Uint8Array;
  /** The checkpoints as the verification read them first. */
  first: readonly Checkpoint[];
}): Promise<{ size: number } | { problem: string }> {
  let checkpoints: Checkpoint[];
  try {
    checkpoints = (await readCheckpoints(opts.file)).checkpoints;
  } catch (e) {
    return { problem: `unreadable: ${(e as Error).message}` };
  }
  for (const [i, c] of opts.first.entries()) {
    const now = checkpoints[i];
    if (now === undefined || now.size !== c.size || now.root !== c.root || now.sig !== c.sig) {
      return { problem: `checkpoint #${i + 1} (size ${c.size}) is no longer there as it was` };
    }
  }
  let handovers;
  try {
    handovers = await readHandovers(opts.keysDir);
  } catch (e) {
    return { problem: `key handovers unreadable: ${(e as Error).message}` };
  }
  const keys = await resolveKeyChain({
    anchor: opts.anchor,
    handovers,
    checkpoints: checkpoints.map((c, i) => ({ c, label: `checkpoint #${i + 1}` })),
  });
  if (keys.problem) return { problem: keys.problem };
  return { size: Math.max(0, ...checkpoints.map((c) => c.size)) };
}

/**
 * Why the log's claim that a checkpoint of `claim` events was signed is not met, or null when it
 * is: by the file as first read (`covered`, its largest size), or by the file read again now.
 */
export async function unmetClaim(opts: {
  claim: number;
  covered: number;
  file: string;
  keysDir: string;
  anchor: Uint8Array;
  first: readonly Checkpoint[];
}): Promise<string | null> {
  if (opts.claim <= opts.covered) return null;
  const since = await signedSince(opts);
  if ("problem" in since) {
    return `${CHECKPOINTS_FILE} changed while the log was verified: ${since.problem}`;
  }
  const covers = Math.max(opts.covered, since.size);
  if (opts.claim <= covers) return null;
  return `signed checkpoints are gone: the log records that a checkpoint of ${opts.claim} ` +
    `events was signed, but the largest in ${CHECKPOINTS_FILE} covers ${covers}`;
}
