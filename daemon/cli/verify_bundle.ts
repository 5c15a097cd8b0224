/**
 * `vigil verify-bundle DIR [--pubkey FILE] [--json]`: verifies an exported bundle offline (see
 * daemon/export/bundle_verify.ts). Exit 0 intact, 1 tampered or damaged (the first problem is
 * named, with file, row and seq where it has them), 2 usage error.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import { verifyBundle } from "../export/bundle_verify.ts";
import { keyIdOf, parsePublicKey } from "../store/keys.ts";
import { print } from "../log.ts";
import { parseFlags, UsageError } from "./args.ts";

/** Runs `vigil verify-bundle`; returns the exit code. */
export async function verifyBundleCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    pubkey: { type: "string" },
    json: { type: "boolean" },
  });
  if (rest.length !== 1) throw new UsageError("give one bundle directory");
  const dir = rest[0]!;
  let isDir = false;
  try {
    isDir = (await Deno.stat(dir)).isDirectory;
  } catch {
    // reported below
  }
  if (!isDir) throw new UsageError(`${dir} is not a directory`);
  let publicKey: Uint8Array | undefined;
  if (values.pubkey !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(values.pubkey);
    } catch (e) {
      throw new UsageError(`cannot read public key ${values.pubkey}: ${(e as Error).message}`);
    }
    try {
      publicKey = parsePublicKey(text);
    } catch (e) {
      throw new UsageError(`${values.pubkey}: ${(e as Error).message}`);
    }
  }
  const report = await verifyBundle(dir, publicKey ? { publicKey } : {});
  const m = report.manifest;
  if (values.json) {
    print(JSON.stringify({
      ok: report.ok,
      problems: report.problems,
      key_id: report.keyId ?? null,
      range: m?.range ?? null,
      files: m?.files.length ?? null,
      checkpoint: m?.checkpoint ?? null,
    }));
  } else if (report.ok && m) {
    // The checkpoint may be signed by an earlier or later key than the one given: say how.
    const signer = m.checkpoint.key_id;
    const from = publicKey ? keyIdOf(publicKey) : report.keyId;
    const how = from === signer
      ? (publicKey ? " (the trusted key)" : " (the bundled key)")
      : ` (followed from the ${publicKey ? "trusted" : "bundled"} key ${from} through the ` +
        `manifest's key handovers)`;
    print(
      `OK: ${m.range.events} events (seq ${m.range.first_seq} to ${m.range.last_seq}) in ` +
        `${m.files.length} file${
          m.files.length === 1 ? "" : "s"
        }; every file hash, row, chain hash and Merkle root matches the ` +
        `checkpoint of size ${m.checkpoint.size} signed ${formatRfc3339Micros(m.checkpoint.ts)} ` +
        `by key ${signer}${how}`,
    );
  } else {
    const [first, ...more] = report.problems;
    print(`TAMPERED: ${first}`);
    for (const p of more) print(`  also: ${p}`);
  }
  return report.ok ? 0 : 1;
}
