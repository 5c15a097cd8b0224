/**
 * Seeded randomness for property tests, so that a failing case can be replayed from its seed:
 * the same mulberry32 generator the detectors sample with.
 */

import { seededRandom } from "../../daemon/detect/prng.ts";

/** Values in [0, 1) from `seed`. */
export function prng(seed: number): () => number {
  return seededRandom(seed);
}
