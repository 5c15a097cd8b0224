/**
 * `vigil prove --data DIR --seq N [--from-size M]`: the inclusion proof of one event against the
 * latest signed checkpoint, as JSON — and, with --from-size, the consistency proof that the
 * latest checkpoint extends an earlier tree of M events. Each proof is checked before it is
 * printed, so a damaged node file can never produce a wrong proof.
 */

import { readCheckpoints } from "../store/checkpoint.ts";
import { readLog } from "../store/log_reader.ts";
import { hex, unhex } from "../store/keys.ts";
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  rootFromNodes,
  verifyConsistency,
  verifyInclusion,
} from "../store/merkle.ts";
import { openMerkleReader } from "../store/merkle_log.ts";
import { storePaths } from "../store/store_open.ts";
import { print } from "../log.ts";
import { intFlag, noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil prove`; returns the exit code. */
export async function proveCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    seq: { type: "string" },
    "from-size": { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const seq = intFlag(required(values.seq, "seq"), "seq")!;
  const fromSize = intFlag(values["from-size"], "from-size");
  const paths = storePaths(data);
  const { checkpoints } = await readCheckpoints(paths.checkpoints);
  const cp = checkpoints[checkpoints.length - 1];
  if (!cp) throw new UsageError(`no signed checkpoint in ${data} yet`);
  if (seq >= cp.size) {
    throw new UsageError(
      `seq ${seq} is not covered by the latest signed checkpoint (${cp.size} events); ` +
        `prove it after the next checkpoint`,
    );
  }
  if (fromSize !== undefined && (fromSize < 1 || fromSize > cp.size)) {
    throw new UsageError(`--from-size must be between 1 and ${cp.size}`);
  }
  let record;
  for await (const r of readLog(data, { fromSeq: seq, toSeq: seq + 1 })) record = r;
  if (!record) throw new UsageError(`seq ${seq} is not in the log`);
  const levels = await openMerkleReader(data);
  try {
    const leaf = leafHash(new TextEncoder().encode(record.json));
    const root = unhex(cp.root);
    const proof = await levels.read(() => inclusionProof(seq, cp.size, levels));
    if (!verifyInclusion(leaf, seq, cp.size, proof, root)) {
      print(JSON.stringify({ error: "the inclusion proof does not verify: run vigil verify" }));
      return 1;
    }
    const out: Record<string, unknown> = {
      seq,
      tree_size: cp.size,
      leaf_hash: hex(leaf),
      event: record.event,
      inclusion_proof: proof.map(hex),
      root: cp.root,
      checkpoint: cp,
    };
    if (fromSize !== undefined) {
      const oldRoot = await levels.read(() => rootFromNodes(fromSize, levels));
      const cons = await levels.read(() => consistencyProof(fromSize, cp.size, levels));
      if (!verifyConsistency(fromSize, cp.size, oldRoot, root, cons)) {
        print(JSON.stringify({ error: "the consistency proof does not verify: run vigil verify" }));
        return 1;
      }
      out.consistency = { from_size: fromSize, from_root: hex(oldRoot), proof: cons.map(hex) };
    }
    print(JSON.stringify(out, null, 2));
    return 0;
  } finally {
    levels.close();
  }
}
