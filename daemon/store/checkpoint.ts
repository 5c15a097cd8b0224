/**
 * Signed checkpoints: {tree size, Merkle root, chain head, time, key id}, Ed25519-signed and
 * appended one JSON line each to `checkpoints.jsonl`. Anyone who keeps a copy of one can later
 * prove that the log still extends it; truncating or rewriting history shows as a root or
 * chain that no longer matches a signature.
 */

import { hex, importPublicKey, keyIdOf, type SigningKey, unhex } from "./keys.ts";

export const CHECKPOINTS_FILE = "checkpoints.jsonl";

/** A checkpoint as stored. */
export interface Checkpoint {
  v: 1;
  size: number;
  root: string;
  chain: string;
  /** Signing time, µs since epoch. */
  ts: number;
  key_id: string;
  /** Base64 Ed25519 signature over `checkpointMessage`. */
  sig: string;
}

/** The exact bytes that are signed. Line-oriented so that a person can read what was signed. */
export function checkpointMessage(c: Omit<Checkpoint, "sig">): Uint8Array {
  return new TextEncoder().encode(
    `vigil-checkpoint v${c.v}\nkey ${c.key_id}\nsize ${c.size}\nroot ${c.root}\n` +
      `chain ${c.chain}\nts ${c.ts}\n`,
  );
}

/** Signs a new checkpoint. */
export async function signCheckpoint(
  key: SigningKey,
  fields: { size: number; root: Uint8Array; chain: Uint8Array; ts: number },
): Promise<Checkpoint> {
  const body = {
    v: 1 as const,
    size: fields.size,
    root: hex(fields.root),
    chain: hex(fields.chain),
    ts: fields.ts,
    key_id: key.keyId,
  };
  const sig = new Uint8Array(
    await crypto.subtle.sign("Ed25519", key.privateKey, checkpointMessage(body) as BufferSource),
  );
  return { ...body, sig: btoa(String.fromCharCode(...sig)) };
}

/** True when the checkpoint's signature is valid for the raw public key. */
export async function verifyCheckpoint(c: Checkpoint, publicRaw: Uint8Array): Promise<boolean> {
  if (c.key_id !== keyIdOf(publicRaw)) return false;
  let sig: Uint8Array;
  try {
    sig = Uint8Array.from(atob(c.sig), (ch) => ch.charCodeAt(0));
  } catch {
    return false;
  }
  const { sig: _, ...body } = c;
  return crypto.subtle.verify(
    "Ed25519",
    await importPublicKey(publicRaw),
    sig as BufferSource,
    checkpointMessage(body) as BufferSource,
  );
}

/** Parses one checkpoint line; throws SyntaxError naming what is wrong. */
export function parseCheckpoint(line: string): Checkpoint {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new SyntaxError("not JSON");
  }
  const c = v as Partial<Checkpoint>;
  if (
    typeof c !== "object" || c === null || c.v !== 1 || !Number.isSafeInteger(c.size) ||
    c.size! < 0 || typeof c.root !== "string" || typeof c.chain !== "string" ||
    !Number.isSafeInteger(c.ts) || typeof c.key_id !== "string" || typeof c.sig !== "string"
  ) {
    throw new SyntaxError("missing or mistyped checkpoint fields");
  }
  unhex(c.root);
  unhex(c.chain);
  return c as Checkpoint;
}

/** What `readCheckpoints` found. */
export interface CheckpointFile {
  checkpoints: Checkpoint[];
  /** Byte length of the whole lines read. */
  goodBytes: number;
  /** Bytes after the last newline: a line being written, or a torn one. */
  partialBytes: number;
}

/**
 * Reads every whole line of a checkpoint file. An unparseable whole line is damage and throws
 * SyntaxError with its line number; a trailing line without its newline is reported, not read.
 */
export async function readCheckpoints(path: string): Promise<CheckpointFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { checkpoints: [], goodBytes: 0, partialBytes: 0 };
    }
    throw e;
  }
  const lastNl = text.lastIndexOf("\n");
  const whole = text.slice(0, lastNl + 1);
  const checkpoints: Checkpoint[] = [];
  const lines = whole.split("\n");
  lines.pop();
  lines.forEach((line, i) => {
    try {
      checkpoints.push(parseCheckpoint(line));
    } catch (e) {
      throw new SyntaxError(`${path} line ${i + 1}: ${(e as Error).message}`);
    }
  });
  const goodBytes = new TextEncoder().encode(whole).length;
  return {
    checkpoints,
    goodBytes,
    partialBytes: new TextEncoder().encode(text).length - goodBytes,
  };
}
