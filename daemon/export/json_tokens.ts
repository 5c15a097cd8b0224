/**
 * Reading JSON tokens in place in UTF-8 bytes, for the canonical JSON of events
 * (`arrow_json.ts`): where a value ends, without building it; an integer's value; a list of
 * strings' items. Each function takes the bytes and an offset and returns an offset (-1: not
 * what was expected), so nothing is allocated per token.
 */

const Q = 0x22, BSLASH = 0x5c, COMMA = 0x2c;

/** Whether a string passed by `skipString` since `clearEscape()` held a backslash. */
export let sawEscape = false;

/** Starts a new line for `sawEscape`. */
export function clearEscape(): void {
  sawEscape = false;
}

/** The end of the JSON value starting at `i`, or -1. Nested values are matched, not parsed. */
export function skipToken(buf: Uint8Array, i: number, end: number): number {
  const c = buf[i];
  if (c === Q) return skipString(buf, i, end);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = buf[j];
      if (d === Q) {
        j = skipString(buf, j, end) - 1;
        if (j < 0) return -1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < end && buf[j] !== COMMA && buf[j] !== 0x7d && buf[j] !== 0x5d) j++;
  return j > i ? j : -1;
}

/** The end of the string starting with the quote at `i` (after its closing quote), or -1. */
export function skipString(buf: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const d = buf[j];
    if (d === Q) return j + 1;
    if (d === BSLASH) {
      sawEscape = true;
      j++;
    }
  }
  return -1;
}

/** Read here too; it lives with the event time reader (`event/event_time.ts`). */
export { intValue } from "../event/event_time.ts";

/**
 * Walks the items of a list of strings and nulls `[…]` at `buf[s..e)`, calling `each` with each
 * item's token (start -1 for a null); false when an item is anything else.
 */
export function listItems(
  buf: Uint8Array,
  s: number,
  e: number,
  each: ((start: number, end: number) => void) | null,
): boolean {
  let i = s + 1;
  if (buf[i] === 0x5d) return i + 1 === e;
  for (;;) {
    if (buf[i] === Q) {
      const j = skipString(buf, i, e);
      if (j < 0) return false;
      each?.(i, j);
      i = j;
    } else if (
      buf[i] === 0x6e && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c
    ) {
      each?.(-1, -1);
      i += 4;
    } else return false;
    if (buf[i] === COMMA) i++;
    else return buf[i] === 0x5d && i + 1 === e;
  }
}
