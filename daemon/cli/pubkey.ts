/** `vigil pubkey --data DIR`: prints the public key that verifies this appliance's checkpoints. */

import { publicKeyPem, readPublicKey } from "../store/keys.ts";
import { storePaths } from "../store/store_open.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil pubkey`; returns the exit code. */
export async function pubkeyCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { data: { type: "string" } });
  noRest(rest);
  const data = required(values.data, "data");
  let raw: Uint8Array;
  try {
    raw = await readPublicKey(storePaths(data).keys);
  } catch (e) {
    throw new UsageError(`no signing key in ${data}: ${(e as Error).message}`);
  }
  print(publicKeyPem(raw).trimEnd());
  return 0;
}
