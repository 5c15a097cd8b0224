/**
 * The damaged parts of the log that live detection read past (`store/read_past_damage.ts`): each
 * is logged as it is met, the first {@link MAX_SKIPS_KEPT} are kept for the status and later
 * ones only counted, so a badly damaged store costs bounded memory. Cleared when detection
 * starts its state over.
 */

import { log } from "../log.ts";
import type { SkippedRange } from "../store/read_past_damage.ts";

/** Skips of damaged log kept for status; later ones are counted only. */
const MAX_SKIPS_KEPT = 20;

/** Damaged parts of the log read past: the first few, and how many there were. */
export class SkippedParts {
  readonly #kept: SkippedRange[] = [];
  #count = 0;

  /** Notes a damaged part of the log that detection read past. */
  note(k: SkippedRange): void {
    this.#count++;
    if (this.#kept.length < MAX_SKIPS_KEPT) this.#kept.push(k);
    log("error", "detection read past a damaged part of the log", {
      from_seq: k.fromSeq,
      to_seq: k.toSeq,
      reason: k.reason,
    });
  }

  /** What the status says of them, one line a kept part and one for the rest. */
  errors(): string[] {
    const out = this.#kept.map((k) =>
      `seqs ${k.fromSeq}–${k.toSeq - 1} of the log could not be read: ${k.reason}`
    );
    if (this.#count > this.#kept.length) {
      out.push(`${this.#count - this.#kept.length} more damaged parts of the log skipped`);
    }
    return out;
  }

  clear(): void {
    this.#kept.length = 0;
    this.#count = 0;
  }
}
