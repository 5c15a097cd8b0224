/**
 * The fingerprints Vigil's functions must have in a database where `vigil pg-install` of this
 * version ran: sha256 over the text {@link functionFingerprintText} builds, the same text that
 * {@link FINGERPRINT_SQL} hashes on the server. The installer replaces a function whose
 * fingerprint differs; the WAL source's watchdog raises an alarm for one.
 */

import { createHash } from "node:crypto";
import { functionFingerprintText, VIGIL_FUNCTIONS } from "./functions_sql.ts";

let cached: Readonly<Record<string, string>> | undefined;

/** Signature (`vigil.name(argtypes)`) → hex sha256 fingerprint, for every function. */
export function expectedFingerprints(): Readonly<Record<string, string>> {
  cached ??= Object.freeze(Object.fromEntries(VIGIL_FUNCTIONS.map((fn) => [
    fn.signature,
    createHash("sha256").update(functionFingerprintText(fn), "utf8").digest("hex"),
  ])));
  return cached;
}
