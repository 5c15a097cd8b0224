/**
 * Random secrets and their stored form. Session ids and API tokens are 256-bit random values
 * handed to the client once; the database keeps only their SHA-256, so a copy of
 * `access.sqlite` does not let anyone act as a user or an application.
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 32 random bytes, base64url without padding (43 characters). */
export function randomSecret(): string {
  return new Uint8Array(randomBytes(32)).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The stored form of a secret: SHA-256, hex. A fast hash suffices for 256-bit randomness. */
export function secretHash(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Compares two strings in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
