/**
 * Offline verification of an air-gapped bundle, needing nothing of the appliance: the manifest's
 * signature (by the bundled key, or the one an auditor kept), the checkpoints' signatures and
 * the consistency proof between them, every file's SHA-256, no file missing or added, every row
 * rebuilt to its canonical JSON and placed by seq (`bundle_rows.ts`), then the chain and the
 * Merkle tree replayed over the rows in seq order against the chain hashes and roots signed in
 * the checkpoints. Problems are reported in that order, the first one first, each naming its
 * place (file, row, seq); once the signature fails nothing else in the manifest is trusted.
 */

import { createHash } from "node:crypto";
import { formatRfc3339Micros } from "../event/time.ts";
import { type Checkpoint } from "../store/checkpoint.ts";
import { resolveKeyChain } from "../store/key_chain.ts";
import { hex, importPublicKey, keyIdOf, parsePublicKey, unhex } from "../store/keys.ts";
import { MerkleFrontier, verifyConsistency } from "../store/merkle.ts";
import { sha256 } from "../store/sha256.ts";
import { LeafTable } from "./bundle_rows.ts";
import { replayBundle } from "./bundle_replay.ts";
import {
  type Manifest,
  MANIFEST_FILE,
  parseManifest,
  PUBLIC_KEY_FILE,
  README_FILE,
  SIGNATURE_FILE,
  verifyManifest,
} from "./manifest.ts";
import { parseBundlePath } from "./partition.ts";

/** The outcome of verifying a bundle. */
export interface BundleReport {
  ok: boolean;
  /** What is wrong, the first problem first; empty when ok. At most `MAX_PROBLEMS`. */
  problems: string[];
  keyId?: string;
  manifest?: Manifest;
}

/** Problems listed at most: the first names the place, a few more help to see the extent. */
export const MAX_PROBLEMS = 8;

/**
 * Verifies the bundle in `dir`. With `publicKey` (raw Ed25519, kept by the auditor), the
 * bundle's own key must be that one. Throws only for I/O failures other than missing files.
 */
export async function verifyBundle(
  dir: string,
  opts: { publicKey?: Uint8Array } = {},
): Promise<BundleReport> {
  const problems: string[] = [];
  const report = (extra: Partial<BundleReport> = {}): BundleReport => ({
    ok: problems.length === 0,
    problems: problems.slice(0, MAX_PROBLEMS),
    ...extra,
  });
  const trust = await readTrusted(dir, opts.publicKey, problems);
  if (!trust) return report();
  const { manifest: m, key } = trust;
  const keyId = keyIdOf(key);
  await checkProofs(m, trust, problems);
  if (problems.length > 0) return report({ keyId, manifest: m });

  const present = await listFiles(dir);
  const listed = new Set(m.files.map((f) => f.path));
  for (const f of m.files) if (!present.has(f.path)) problems.push(`${f.path} is missing`);
  const fixed = [MANIFEST_FILE, SIGNATURE_FILE, PUBLIC_KEY_FILE, README_FILE];
  for (const p of [...present].sort()) {
    if (!listed.has(p) && !fixed.includes(p)) problems.push(`${p} is not in the manifest`);
  }
  const table = new LeafTable(m.range.first_seq, m.range.last_seq + 1);
  for (let i = 0; i < m.files.length; i++) {
    const f = m.files[i]!;
    if (!present.has(f.path)) continue;
    const bytes = await Deno.readFile(`${dir}/${f.path}`);
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (digest !== f.sha256) {
      problems.push(`${f.path}: SHA-256 ${digest} is not the manifest's ${f.sha256}`);
    }
    const rowProblem = await table.addFile(bytes, f, i, m.files);
    if (rowProblem) problems.push(rowProblem);
  }
  const missing = table.firstMissing();
  if (missing !== undefined) {
    problems.push(`seq ${missing} is in no file; a row or file was removed`);
    return report({ keyId, manifest: m });
  }
  problems.push(...replayBundle(m, table));
  return report({ keyId, manifest: m });
}

/** A manifest whose signature checked out, with the key that signed it and the trusted one. */
interface Trust {
  manifest: Manifest;
  key: Uint8Array;
  anchor: Uint8Array;
  covered: boolean;
}

/**
 * Reads the manifest and checks its signature, by the bundled key or the trusted one — or a key
 * the trusted one handed over to; undefined (with a problem) if it fails.
 */
async function readTrusted(
  dir: string,
  trusted: Uint8Array | undefined,
  problems: string[],
): Promise<Trust | undefined> {
  const bytes = await readIfThere(`${dir}/${MANIFEST_FILE}`);
  const sig = await readIfThere(`${dir}/${SIGNATURE_FILE}`);
  const pem = await readIfThere(`${dir}/${PUBLIC_KEY_FILE}`);
  for (const [name, v] of [[MANIFEST_FILE, bytes], [SIGNATURE_FILE, sig]] as const) {
    if (!v) problems.push(`${name} is missing`);
  }
  if (!pem && !trusted) problems.push(`${PUBLIC_KEY_FILE} is missing (or give --pubkey)`);
  if (!bytes || !sig || (!pem && !trusted)) return undefined;
  let bundled: Uint8Array | undefined;
  if (pem) {
    try {
      bundled = parsePublicKey(new TextDecoder().decode(pem));
    } catch (e) {
      problems.push(`${PUBLIC_KEY_FILE}: ${(e as Error).message}`);
      return undefined;
    }
  }
  const anchor = trusted ?? bundled!;
  // The key handovers are read before the signature is checked: each is signed by the key
  // before it, so following them from the trusted key finds the manifest's signer or nothing.
  let unchecked: Manifest | undefined;
  try {
    unchecked = parseManifest(bytes);
  } catch {
    // Reported below, once the signature says whether the manifest is the appliance's.
  }
  const handovers = unchecked?.key_handovers ?? [];
  const chain = await resolveKeyChain({ anchor, handovers, checkpoints: [], covered: true });
  if (chain.problem) {
    problems.push(`${MANIFEST_FILE}: ${chain.problem}`);
    return undefined;
  }
  const inChain = (raw: Uint8Array) =>
    chain.keys.findIndex((k) => k.publicRaw !== null && hex(k.publicRaw) === hex(raw));
  if (trusted && bundled && inChain(bundled) < 0) {
    problems.push(
      `${PUBLIC_KEY_FILE} holds key ${keyIdOf(bundled)}, not the trusted key ${keyIdOf(trusted)}` +
        (handovers.length ? " nor a key it handed over to" : ""),
    );
    return undefined;
  }
  const named = chain.keys.find((k) => k.keyId === unchecked?.key_id)?.publicRaw;
  const key = bundled ?? named ?? anchor;
  if (!(await verifyManifest(bytes, sig, await importPublicKey(key)))) {
    problems.push(
      `${SIGNATURE_FILE} is not a valid signature of ${MANIFEST_FILE} by key ${keyIdOf(key)}; ` +
        `the manifest was changed or signed by another key`,
    );
    return undefined;
  }
  try {
    const manifest = parseManifest(bytes);
    if (manifest.key_id !== keyIdOf(key)) {
      problems.push(`${MANIFEST_FILE} names key ${manifest.key_id}, not ${keyIdOf(key)}`);
      return undefined;
    }
    // A manifest signed by a key older than the trusted one vouches for nothing the trusted key
    // has not signed itself: its checkpoints must then show such a signature.
    return { manifest, key, anchor, covered: inChain(key) >= chain.anchor };
  } catch (e) {
    problems.push((e as Error).message);
    return undefined;
  }
}

/** Checkpoint signatures, the shape of the ranges, and the consistency proof. */
async function checkProofs(m: Manifest, trust: Trust, problems: string[]): Promise<void> {
  const a = m.range.first_seq, b = m.range.last_seq + 1, cp = m.checkpoint;
  const all: [string, Checkpoint][] = [["checkpoint", cp]];
  if (m.previous_checkpoint) all.push(["previous_checkpoint", m.previous_checkpoint]);
  m.inner_checkpoints.forEach((c, i) => all.push([`inner_checkpoints[${i}]`, c]));
  // Each checkpoint by the key in use at its size, followed from the trusted key.
  const keys = await resolveKeyChain({
    anchor: trust.anchor,
    handovers: m.key_handovers ?? [],
    checkpoints: all.map(([name, c]) => ({ c, label: name })),
    covered: trust.covered,
  });
  if (keys.problem) problems.push(`${MANIFEST_FILE}: ${keys.problem}`);
  const shape: [boolean, string][] = [
    [m.range.events === b - a && a < b, "range.events does not match first_seq and last_seq"],
    [m.frontier.size === a, "frontier.size is not range.first_seq"],
    [m.suffix.from === b && m.suffix.to === cp.size, "suffix is not [last_seq + 1, size)"],
    [cp.size >= b, "the checkpoint does not cover the range"],
    [(m.previous_checkpoint?.size ?? 0) <= a, "previous_checkpoint is past range.first_seq"],
    [m.inner_checkpoints.every((c) => c.size > a && c.size < b), "inner_checkpoints not inside"],
    [m.consistency.from_size === (m.previous_checkpoint?.size ?? 0), "consistency.from_size"],
    [m.consistency.to_size === cp.size, "consistency.to_size is not the checkpoint's size"],
  ];
  for (const [ok, what] of shape) if (!ok) problems.push(`${MANIFEST_FILE}: ${what}`);
  try {
    MerkleFrontier.fromJSON(m.frontier);
  } catch (e) {
    problems.push(`${MANIFEST_FILE}: ${(e as Error).message}`);
  }
  m.files.forEach((f, i) => {
    // Version 2 paths name no source: the signed manifest and each row say it.
    const p = parseBundlePath(f.path, m.version);
    if (
      !p || (p.source ?? f.source) !== f.source || p.date !== f.date ||
      p.firstSeq !== f.first_seq || p.lastSeq !== f.last_seq
    ) {
      problems.push(`${MANIFEST_FILE}: files[${i}].path ${JSON.stringify(f.path)} is malformed`);
    }
  });
  if (problems.length > 0) return;
  const rootM = m.previous_checkpoint
    ? unhex(m.previous_checkpoint.root)
    : sha256(new Uint8Array());
  const proof = m.consistency.proof.map(unhex);
  if (!verifyConsistency(m.consistency.from_size, cp.size, rootM, unhex(cp.root), proof)) {
    problems.push(
      `${MANIFEST_FILE}: the consistency proof from size ${m.consistency.from_size} to ` +
        `${cp.size} (signed ${formatRfc3339Micros(cp.ts)}) does not verify`,
    );
  }
}

/** Relative paths of every file under `dir`, `/`-separated. */
async function listFiles(dir: string, prefix = ""): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) { for (const p of await listFiles(dir, `${rel}/`)) out.add(p); }
    else out.add(rel);
  }
  return out;
}

async function readIfThere(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
