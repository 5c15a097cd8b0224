/**
 * `vigil key rotate --data DIR [--reason TEXT] [--by NAME]`: replaces the checkpoint signing key,
 * recording the handover in the chain under a checkpoint of the old key (`store/key_rotation.ts`).
 * `vigil key rotate --recover --data DIR …`: when `keys/signing.key` is lost, records a declared
 * loss and starts a new key; `vigil verify` then reports the loss instead of an unknown key.
 * `vigil key list --data DIR`: every key that signed the log, oldest first.
 *
 * Rotation writes, so it takes the data directory's lock: while `vigil serve` runs, rotate from
 * the Administration page (the daemon's own store does it).
 */

import { formatRfc3339Micros } from "../event/time.ts";
import { print } from "../log.ts";
import { readCheckpoints } from "../store/checkpoint.ts";
import { StoreLockedError } from "../store/errors.ts";
import { resolveKeyChain } from "../store/key_chain.ts";
import { readHandovers } from "../store/key_handover.ts";
import { readPublicKey } from "../store/keys.ts";
import { Store } from "../store/store.ts";
import { storePaths } from "../store/store_open.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil key …`; returns the exit code. */
export function keyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "rotate") return rotate(rest);
  if (sub === "list") return list(rest);
  throw new UsageError(`vigil key takes rotate or list, got ${JSON.stringify(sub ?? "")}`);
}

async function dataDir(value: string | undefined): Promise<string> {
  const data = required(value, "data");
  try {
    await Deno.stat(`${data}/segments`);
  } catch {
    throw new UsageError(`${data} is not a Vigil data directory (no segments/)`);
  }
  return data;
}

function osUser(): string | undefined {
  try {
    return Deno.env.get("SUDO_USER") ?? Deno.env.get("USER");
  } catch {
    return undefined;
  }
}

async function rotate(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    recover: { type: "boolean" },
    reason: { type: "string" },
    by: { type: "string" },
  });
  noRest(rest);
  const data = await dataDir(values.data);
  const who: { by?: string; reason?: string } = {};
  const by = values.by ?? osUser();
  if (by) who.by = by;
  if (values.reason) who.reason = values.reason;
  let store: Store;
  try {
    store = await Store.open(data, {
      checkpointIntervalMs: 0,
      hashWorker: false,
      ...(values.recover ? { recoverLostKey: who } : {}),
    });
  } catch (e) {
    if (e instanceof StoreLockedError) {
      throw new StoreLockedError(
        `${e.message}; while vigil serve runs, rotate the key from Administration → Signing key`,
      );
    }
    throw e;
  }
  try {
    const r = values.recover ? store.lastRotation! : await store.rotateKey(who);
    print(
      `${r.declaredLoss ? "declared key" : "rotated key"} ${r.oldKeyId}` +
        `${r.declaredLoss ? " lost; new key" : " →"} ${r.newKeyId} at seq ${r.seq}` +
        ` (checkpoint of ${r.handoverCheckpoint.size} events signed by ` +
        `${r.declaredLoss ? "the new" : "the old"} key); public key: ` +
        `${storePaths(data).keys}/history/${r.newKeyId}.pub`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

async function list(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { data: { type: "string" } });
  noRest(rest);
  const data = await dataDir(values.data);
  const paths = storePaths(data);
  const handovers = await readHandovers(paths.keys);
  const chain = await resolveKeyChain({
    anchor: await readPublicKey(paths.keys),
    handovers,
    checkpoints: (await readCheckpoints(paths.checkpoints)).checkpoints.map((c, i) => ({
      c,
      label: `checkpoint #${i + 1}`,
    })),
  });
  for (const [i, k] of chain.keys.entries()) {
    const h = i > 0 ? handovers[i - 1] : undefined;
    const ts = h ? formatRfc3339Micros(JSON.parse(h.event).ts) : null;
    print(
      [
        k.keyId,
        i === chain.keys.length - 1 ? "current" : "retired",
        k.introducedAt === null
          ? "first key"
          : `${k.declaredLoss ? "declared loss" : "rotation"} at seq ${k.introducedAt} ${ts}`,
        `${paths.keys}/history/${k.keyId}.pub`,
      ].join("\t"),
    );
  }
  if (chain.problem) {
    print(`PROBLEM: ${chain.problem} (run vigil verify)`);
    return 1;
  }
  return 0;
}
