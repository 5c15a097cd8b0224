/**
 * Clocks as the replication protocol carries them: µs since 2000-01-01 00:00 UTC —
 * PostgreSQL's epoch, not Unix's. A client that gets this wrong (one npm library does) sends
 * status updates dated 30 years off.
 */

/** µs between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
export const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;

/** Now, in µs since 2000-01-01 UTC, for Standby Status Updates. */
export function pgNowMicros(nowMs: number = Date.now()): bigint {
  return BigInt(Math.round(nowMs * 1000)) - PG_EPOCH_OFFSET_MICROS;
}
