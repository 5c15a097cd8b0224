/**
 * The appliance's Ed25519 signing key. Created on first start (PKCS#8, mode 0600, beside a
 * public key anyone may copy), it signs checkpoints. An auditor keeps the public key apart from
 * the box; `verify --pubkey` then checks signatures against that copy rather than the one here.
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

/** Loads the signing key from `dir`, creating it (0600) if there is none. */
export async function loadOrCreateKey(dir: string): Promise<SigningKey> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const privPath = `${dir}/${PRIVATE_KEY_FILE}`;
  let pkcs8: Uint8Array;
  try {
    pkcs8 = await Deno.readFile(privPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const pair = await crypto.subtle.generateKey("Ed25519", true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    // Written to a temporary name and renamed, so a crash never leaves half a key behind.
    await Deno.writeFile(`${privPath}.tmp`, pkcs8, { mode: 0o600 });
    await Deno.rename(`${privPath}.tmp`, privPath);
    await Deno.writeTextFile(`${dir}/${PUBLIC_KEY_FILE}`, publicKeyPem(raw), { mode: 0o644 });
  }
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8 as Uint8Array<ArrayBuffer>,
    "Ed25519",
    true,
    ["sign"],
  );
  // WebCrypto derives no public key from a private one; the JWK form carries it as `x`.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const publicRaw = Uint8Array.from(
    atob((jwk.x ?? "").replace(/-/g, "+").replace(/_/g, "/")),
    (c) => c.charCodeAt(0),
  );
  const publicKey = await importPublicKey(publicRaw);
  return { keyId: keyIdOf(publicRaw), publicRaw, privateKey, publicKey };
}

/** Reads the public key that `loadOrCreateKey` wrote in `dir`. */
export async function readPublicKey(dir: string): Promise<Uint8Array> {
  return parsePublicKey(await Deno.readTextFile(`${dir}/${PUBLIC_KEY_FILE}`));
}
