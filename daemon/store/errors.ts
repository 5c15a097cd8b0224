/**
 * Errors of the store. Damage is never repaired silently: it is thrown as `StoreDamageError`
 * with the place (segment, byte offset, seq) so that an operator or auditor can look there.
 */

/** Where in the log something was found. */
export interface LogPlace {
  segment?: string;
  offset?: number;
  seq?: number;
}

/** Describes a place as "seg-….vseg offset 123 seq 45". */
export function describePlace(p: LogPlace): string {
  const parts: string[] = [];
  if (p.segment !== undefined) parts.push(p.segment);
  if (p.offset !== undefined) parts.push(`offset ${p.offset}`);
  if (p.seq !== undefined) parts.push(`seq ${p.seq}`);
  return parts.join(" ");
}

/** The log on disk is not what the store wrote: tampering or corruption. */
export class StoreDamageError extends Error {
  override name = "StoreDamageError";
  readonly place: LogPlace;
  readonly reason: string;
  constructor(reason: string, place: LogPlace = {}) {
    const where = describePlace(place);
    super(where ? `${where}: ${reason}` : reason);
    this.place = place;
    this.reason = reason;
  }
}

/** Another process holds the data directory for writing. */
export class StoreLockedError extends Error {
  override name = "StoreLockedError";
}
