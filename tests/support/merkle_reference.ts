/**
 * RFC 9162 §2.1 written straight from its recursive definitions (MTH, PATH, PROOF), with
 * node:crypto for SHA-256: the independent reference the Merkle code is tested against.
 */

import { createHash } from "node:crypto";

/** SHA-256 of the concatenated parts. */
export function h(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p);
  return new Uint8Array(hash.digest());
}
/** Leaf hash: SHA-256(0x00 ‖ d). */
export const refLeaf = (d: Uint8Array): Uint8Array => h(Uint8Array.of(0), d);
/** Node hash: SHA-256(0x01 ‖ l ‖ r). */
export const refNode = (l: Uint8Array, r: Uint8Array): Uint8Array => h(Uint8Array.of(1), l, r);

/** The largest power of two smaller than n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) over leaf hashes. */
export function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return h();
  if (d.length === 1) return d[0]!;
  const cached = memo.get(d[0]!)?.get(d.length);
  if (cached) return cached;
  const k = split(d.length);
  const root = refNode(mth(d.slice(0, k)), mth(d.slice(k)));
  if (!memo.has(d[0]!)) memo.set(d[0]!, new Map());
  memo.get(d[0]!)!.set(d.length, root);
  return root;
}
// Every D here is a run of distinct leaf-hash objects, so its first leaf and length name it: the
// cache keeps the reference O(n) per tree without changing what it computes.
const memo = new WeakMap<Uint8Array, Map<number, Uint8Array>>();

/** PATH(m, D[n]): the inclusion proof of leaf m. */
export function refPath(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), mth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}

function refSubproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

/** PROOF(m, D[n]): the consistency proof from size m. */
export const refProof = (m: number, d: Uint8Array[]): Uint8Array[] => refSubproof(m, d, true);
