/**
 * The manifest of an air-gapped bundle (`manifest.json`) and its signature (`manifest.sig`: the
 * raw 64-byte Ed25519 signature of the manifest's exact bytes by the appliance's checkpoint key,
 * so that `openssl pkeyutl -verify -rawin` checks it too). The manifest names every file with
 * its SHA-256 and seqs, and carries everything needed to tie the rows to signed checkpoints
 * without the appliance: the chain hash before the first event, the Merkle compact ranges before
 * and after the bundle's leaves, the checkpoints and a consistency proof.
 *
 * Nothing in it depends on the clock: the same store and range give the same manifest, and as
 * Ed25519 signatures are deterministic, the same bundle byte for byte.
 */

import { type Checkpoint, parseCheckpoint } from "../store/checkpoint.ts";
import { type Handover, parseHandover } from "../store/key_handover.ts";
import type { MerkleFrontierJSON } from "../store/merkle.ts";

export const MANIFEST_FILE = "manifest.json";
export const SIGNATURE_FILE = "manifest.sig";
export const PUBLIC_KEY_FILE = "public_key.pem";
export const README_FILE = "README.txt";
export const BUNDLE_FORMAT = "vigil-bundle";
/**
 * The version bundles are written with. 2: Parquet files under `events/date=<d>/`; 1 (read, never
 * written): under `source=<name>/date=<d>/` (`partition.ts` says why that changed).
 */
export const BUNDLE_VERSION = 2;
/** Every version `verify-bundle` reads. */
export type BundleVersion = 1 | 2;

/** One Parquet file of a bundle. */
export interface BundleFile {
  /**
   * Relative, `/`-separated: `events/date=<yyyy-mm-dd>/<first>-<last>.parquet` (version 1:
   * `source=<name>/date=<yyyy-mm-dd>/<first>-<last>.parquet`).
   */
  path: string;
  source: string;
  date: string;
  sha256: string;
  bytes: number;
  rows: number;
  first_seq: number;
  last_seq: number;
}

/** The signed description of a bundle. */
export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  version: BundleVersion;
  /** Id of the Ed25519 key that signed the manifest (the appliance's key when exported). */
  key_id: string;
  /**
   * The appliance's key handovers (rotations and declared losses), each self-contained: its
   * event, the checkpoint covering it and the inclusion proof. Present only when the signing key
   * ever changed; a verifier follows them from the key it trusts to the one that signed here.
   */
  key_handovers?: Handover[];
  /** The contiguous seqs [first_seq, last_seq] the bundle holds, every one of them. */
  range: { first_seq: number; last_seq: number; events: number };
  /** The event-time bounds asked for (RFC 3339), null when not given. */
  requested: { from: string | null; to: string | null };
  /** Chain hash before `first_seq` (zeros at the start of the log) and after `last_seq`. */
  chain_before: string;
  chain_after: string;
  /** Merkle compact range of leaves [0, first_seq): the frontier the bundle's leaves extend. */
  frontier: MerkleFrontierJSON;
  /** Merkle compact range of leaves [last_seq + 1, checkpoint.size), left to right. */
  suffix: { from: number; to: number; nodes: string[] };
  /** The first checkpoint whose tree holds every event of the bundle. */
  checkpoint: Checkpoint;
  /** The last checkpoint at or before `first_seq`, if any: the tree the bundle extends. */
  previous_checkpoint: Checkpoint | null;
  /** Checkpoints whose size falls inside the range: each is checked as the rows are replayed. */
  inner_checkpoints: Checkpoint[];
  /** RFC 9162 consistency proof from `previous_checkpoint` (or the empty tree) to `checkpoint`. */
  consistency: { from_size: number; to_size: number; proof: string[] };
  files: BundleFile[];
}

/** The manifest's bytes: indented JSON with a final newline, for people to read. */
export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m, null, 2) + "\n");
}

/** Parses manifest bytes; throws SyntaxError naming the first field that is wrong. */
export function parseManifest(bytes: Uint8Array): Manifest {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new SyntaxError(`${MANIFEST_FILE} is not UTF-8 JSON`);
  }
  const m = obj(v, "the manifest");
  if (m.format !== BUNDLE_FORMAT) throw bad("format", `is not "${BUNDLE_FORMAT}"`);
  if (m.version !== 1 && m.version !== 2) throw bad("version", "is not 1 or 2");
  str(m.key_id, "key_id");
  const range = obj(m.range, "range");
  for (const k of ["first_seq", "last_seq", "events"]) count(range[k], `range.${k}`);
  const req = obj(m.requested, "requested");
  for (const k of ["from", "to"]) if (req[k] !== null) str(req[k], `requested.${k}`);
  hash(m.chain_before, "chain_before");
  hash(m.chain_after, "chain_after");
  const frontier = obj(m.frontier, "frontier");
  count(frontier.size, "frontier.size");
  hashes(frontier.nodes, "frontier.nodes");
  const suffix = obj(m.suffix, "suffix");
  count(suffix.from, "suffix.from");
  count(suffix.to, "suffix.to");
  hashes(suffix.nodes, "suffix.nodes");
  checkpoint(m.checkpoint, "checkpoint");
  if (m.previous_checkpoint !== null) checkpoint(m.previous_checkpoint, "previous_checkpoint");
  array(m.inner_checkpoints, "inner_checkpoints").forEach((c, i) =>
    checkpoint(c, `inner_checkpoints[${i}]`)
  );
  const cons = obj(m.consistency, "consistency");
  count(cons.from_size, "consistency.from_size");
  count(cons.to_size, "consistency.to_size");
  hashes(cons.proof, "consistency.proof");
  if (m.key_handovers !== undefined) {
    array(m.key_handovers, "key_handovers").forEach((h, i) => {
      try {
        parseHandover(h);
      } catch (e) {
        throw bad(`key_handovers[${i}]`, (e as Error).message);
      }
    });
  }
  array(m.files, "files").forEach((f, i) => {
    const file = obj(f, `files[${i}]`);
    for (const k of ["path", "source", "date"]) str(file[k], `files[${i}].${k}`);
    hash(file.sha256, `files[${i}].sha256`);
    for (const k of ["bytes", "rows", "first_seq", "last_seq"]) count(file[k], `files[${i}].${k}`);
  });
  return m as unknown as Manifest;
}

/** Signs manifest bytes: the raw 64-byte Ed25519 signature. */
export async function signManifest(bytes: Uint8Array, privateKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign("Ed25519", privateKey, bytes as Uint8Array<ArrayBuffer>),
  );
}

/** True when `sig` is a valid Ed25519 signature of `bytes` by `publicKey`. */
export async function verifyManifest(
  bytes: Uint8Array,
  sig: Uint8Array,
  publicKey: CryptoKey,
): Promise<boolean> {
  if (sig.length !== 64) return false;
  return await crypto.subtle.verify(
    "Ed25519",
    publicKey,
    sig as Uint8Array<ArrayBuffer>,
    bytes as Uint8Array<ArrayBuffer>,
  );
}

type Obj = Record<string, unknown>;

function bad(field: string, why: string): SyntaxError {
  return new SyntaxError(`${MANIFEST_FILE}: ${field} ${why}`);
}

function obj(v: unknown, field: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(field, "is not an object");
  return v as Obj;
}

function array(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw bad(field, "is not an array");
  return v;
}

function str(v: unknown, field: string): void {
  if (typeof v !== "string") throw bad(field, "is not a string");
}

function count(v: unknown, field: string): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw bad(field, "is not a non-negative integer");
  }
}

function hash(v: unknown, field: string): void {
  if (typeof v !== "string" || !/^[0-9a-f]{64}$/.test(v)) throw bad(field, "is not a hex hash");
}

function hashes(v: unknown, field: string): void {
  array(v, field).forEach((h, i) => hash(h, `${field}[${i}]`));
}

function checkpoint(v: unknown, field: string): void {
  try {
    parseCheckpoint(JSON.stringify(v));
  } catch (e) {
    throw bad(field, `is not a checkpoint: ${(e as Error).message}`);
  }
}
