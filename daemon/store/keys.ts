/**
 * The appliance's Ed25519 signing key. Created on first start (PKCS#8, mode 0600, beside a
 * public key anyone may copy), it signs checkpoints. An auditor keeps the public key apart from
 * the box; `verify --pubkey` then checks signatures against that copy rather than the one here.
 * Every key ever used keeps its public half in `history/<key_id>.pub`; a key is replaced only
 * by a rotation recorded in the chain (`key_handover.ts`), never silently: once checkpoints
 * exist, a missing private key is an error, not a reason to make a new one.
 */

import { sha256 } from "./sha256.ts";

/** A loaded signing key. */
export interface SigningKey {
  /** First 8 bytes of SHA-256(raw public key), hex: names the key in every checkpoint. */
  keyId: string;
  publicRaw: Uint8Array;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export const PRIVATE_KEY_FILE = "signing.key";
export const PUBLIC_KEY_FILE = "signing.pub";
/** Public halves of every key that signed (or will sign) this log, one `<key_id>.pub` each. */
export const KEY_HISTORY_DIR = "history";
/** A rotation's new private key until the rotation is recorded; then renamed to signing.key. */
export const PENDING_KEY_FILE = "pending.key";

/** The private key is gone although checkpoints signed by it exist. */
export class MissingKeyError extends Error {
  override name = "MissingKeyError";
}

/** The id of a raw Ed25519 public key. */
export function keyIdOf(publicRaw: Uint8Array): string {
  return hex(sha256(publicRaw).subarray(0, 8));
}

/** Lower-case hex of bytes. */
export function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string; throws SyntaxError on anything but an even-length hex string. */
export function unhex(s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(s)) throw new SyntaxError(`not lower-case hex: ${s.slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** PEM (SubjectPublicKeyInfo) text of a raw Ed25519 public key. */
export function publicKeyPem(publicRaw: Uint8Array): string {
  // SPKI for Ed25519 is a fixed 12-byte prefix followed by the 32-byte key (RFC 8410).
  const spki = new Uint8Array([
    0x30,
    0x2a,
    0x30,
    0x05,
    0x06,
    0x03,
    0x2b,
    0x65,
    0x70,
    0x03,
    0x21,
    0x00,
    ...publicRaw,
  ]);
  const b64 = btoa(String.fromCharCode(...spki));
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/** Parses a PEM or bare base64 Ed25519 public key into its 32 raw bytes. */
export function parsePublicKey(text: string): Uint8Array {
  const body = text.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  } catch {
    throw new SyntaxError("public key is neither PEM nor base64");
  }
  if (der.length === 32) return der;
  if (der.length === 44 && der[0] === 0x30 && der[9] === 0x03) return der.slice(12);
  throw new SyntaxError(`public key has ${der.length} bytes; expected an Ed25519 key`);
}

/** Imports a raw Ed25519 public key for verification. */
export function importPublicKey(publicRaw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", publicRaw as Uint8Array<ArrayBuffer>, "Ed25519", true, [
    "verify",
  ]);
}

/** A freshly generated key with its PKCS#8 bytes, not yet on disk. */
export interface NewSigningKey {
  key: SigningKey;
  pkcs8: Uint8Array;
}

/** Generates a new Ed25519 signing key in memory. */
export async function generateKey(): Promise<NewSigningKey> {
  const pair = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return { key: await keyFromPkcs8(pkcs8), pkcs8 };
}

/** Imports a PKCS#8 Ed25519 private key together with its public half. */
export async function keyFromPkcs8(pkcs8: Uint8Array): Promise<SigningKey> {
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8 as Uint8Array<ArrayBuffer>,
    "Ed25519",
    true,
    ["sign"],
  );
  // WebCrypto derives no public key from a private one; the JWK form carries it as `x`.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const publicRaw = unbase64((jwk.x ?? "").replace(/-/g, "+").replace(/_/g, "/"));
  const publicKey = await importPublicKey(publicRaw);
  return { keyId: keyIdOf(publicRaw), publicRaw, privateKey, publicKey };
}

/** Standard base64 of bytes. */
export function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of (unpadded or padded) standard base64; throws SyntaxError on anything else. */
export function unbase64(s: string): Uint8Array {
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    throw new SyntaxError(`not base64: ${s.slice(0, 20)}`);
  }
}

/** Writes `data` to `path` through a synced temporary file and a rename. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode: number,
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const f = await Deno.open(`${path}.tmp`, { write: true, create: true, truncate: true, mode });
  try {
    for (let at = 0; at < bytes.length;) at += await f.write(bytes.subarray(at));
    await f.syncData();
  } finally {
    f.close();
  }
  await Deno.rename(`${path}.tmp`, path);
}

/** Makes the entries of directory `dir` durable. */
export async function syncKeyDir(dir: string): Promise<void> {
  using d = await Deno.open(dir, { read: true });
  await d.sync();
}

/** Keeps the public half of a key in `history/<key_id>.pub` (idempotent). */
export async function keepPublicKey(dir: string, publicRaw: Uint8Array): Promise<void> {
  const hist = `${dir}/${KEY_HISTORY_DIR}`;
  await Deno.mkdir(hist, { recursive: true, mode: 0o700 });
  const path = `${hist}/${keyIdOf(publicRaw)}.pub`;
  try {
    await Deno.stat(path);
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await writeFileAtomic(path, publicKeyPem(publicRaw), 0o644);
  await syncKeyDir(hist);
}

/** Installs `next` as the signing key of `dir`: private key, public key and history. */
export async function installKey(dir: string, next: NewSigningKey): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await keepPublicKey(dir, next.key.publicRaw);
  // Temporary name and rename: a crash never leaves half a key behind.
  await writeFileAtomic(`${dir}/${PRIVATE_KEY_FILE}`, next.pkcs8, 0o600);
  await writeFileAtomic(`${dir}/${PUBLIC_KEY_FILE}`, publicKeyPem(next.key.publicRaw), 0o644);
  await syncKeyDir(dir);
}

/** Loads the signing key of `dir` without writing anything; throws NotFound when there is none. */
export async function loadKey(dir: string): Promise<SigningKey> {
  return await keyFromPkcs8(await Deno.readFile(`${dir}/${PRIVATE_KEY_FILE}`));
}

/**
 * Loads the signing key from `dir`. When there is none it creates one (0600) only if `mayCreate`
 * says so — the store allows it while no checkpoint exists — and otherwise throws
 * MissingKeyError naming the file and the ways out.
 */
export async function loadOrCreateKey(
  dir: string,
  opts: { mayCreate?: boolean } = {},
): Promise<SigningKey> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const privPath = `${dir}/${PRIVATE_KEY_FILE}`;
  try {
    const key = await keyFromPkcs8(await Deno.readFile(privPath));
    await keepPublicKey(dir, key.publicRaw);
    return key;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new Error(`Cannot load the signing key ${privPath}: ${(e as Error).message}`);
    }
  }
  if (opts.mayCreate === false) {
    throw new MissingKeyError(
      `Cannot open the store: the signing key ${privPath} is missing, but checkpoints signed by ` +
        `it exist. Restore the file from its backup (README, "Signing keys"), or ` +
        `declare it lost with \`vigil key rotate --recover --data DIR\`, which records the loss ` +
        `in the chain and starts a new key.`,
    );
  }
  const next = await generateKey();
  await installKey(dir, next);
  return next.key;
}

/** Reads the public key that `loadOrCreateKey` wrote in `dir`. */
export async function readPublicKey(dir: string): Promise<Uint8Array> {
  return parsePublicKey(await Deno.readTextFile(`${dir}/${PUBLIC_KEY_FILE}`));
}
