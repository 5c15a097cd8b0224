/**
 * Password hashing for UI users: scrypt from `node:crypto`, with a per-password random salt and
 * the cost parameters stored beside the hash, so that raising the cost later still verifies
 * the old hashes. Also the rule for what counts as too weak a password.
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost: N = 2^15, r = 8 (about 32 MiB and tens of ms a hash). */
const COST = { N: 1 << 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** The shortest password accepted. Length beats composition rules for strength. */
export const MIN_PASSWORD_LENGTH = 12;

const COMMON = new Set([
  "password1234",
  "123456789012",
  "qwertyuiopas",
  "administrator",
  "letmein12345",
  "changeme1234",
  "passwordpassword",
]);

function derive(
  password: string,
  salt: Uint8Array,
  cost: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // maxmem above 128·N·r, which node's default (32 MiB) would just miss.
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_BYTES,
      { ...cost, maxmem: 256 * cost.N * cost.r },
      (err, key) => err ? reject(err) : resolve(new Uint8Array(key)),
    );
  });
}

const b64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b));
const unb64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Hashes a password as `scrypt$N$r$p$salt$key` (base64 salt and key). */
export async function hashPassword(password: string): Promise<string> {
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const key = await derive(password, salt, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${b64(salt)}$${b64(key)}`;
}

/** True when `password` matches `stored`; false for a malformed stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((x) => Number.isSafeInteger(x) && x > 0)) return false;
  const expected = unb64(parts[5]!);
  const key = await derive(password, unb64(parts[4]!), { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * Why a password is refused, or null when it is acceptable: empty, shorter than
 * {@link MIN_PASSWORD_LENGTH}, one repeated character, the user's name, or a well-known one.
 */
export function passwordWeakness(password: string, userName: string): string | null {
  if (password.length === 0) return "the password is empty";
  const chars = [...password];
  if (chars.length < MIN_PASSWORD_LENGTH) {
    return `the password is shorter than ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (new Set(chars).size < 4) return "the password repeats too few distinct characters";
  const lower = password.toLowerCase();
  if (lower.includes(userName.toLowerCase()) && userName.length >= 3) {
    return "the password contains the user name";
  }
  if (COMMON.has(lower)) return "the password is a well-known one";
  return null;
}

let dummy: Promise<string> | null = null;

/** A hash of a random password, checked for unknown users so that timing does not tell. */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(b64(new Uint8Array(randomBytes(18))));
  return dummy;
}
