/**
 * WAL positions (LSNs) as PostgreSQL writes them: two upper-case hex halves without leading
 * zeros, `16/B374D848`. Internally an LSN is an unsigned 64-bit `bigint`, so comparisons and
 * arithmetic are exact; the text form is what an operator can match against `pg_waldump`,
 * `pg_replication_slots` and the server log.
 */

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = 0xffff_ffff_ffff_ffffn;

/**
 * Formats an LSN as PostgreSQL does (`%X/%X`). Throws `RangeError` outside 0 … 2^64-1.
 *
 * @example
 * formatLsn(0x16b3748n); // "0/16B3748"
 */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`Cannot format LSN ${lsn}: not 64-bit`);
  const hi = Number(lsn >> 32n);
  const lo = Number(lsn & 0xffff_ffffn);
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/**
 * Parses `X/X` (1 to 8 hex digits each side, either case, as `pg_lsn` accepts) into an LSN.
 * Throws `SyntaxError` for anything else.
 *
 * @example
 * parseLsn("0/16B3748"); // 23803720n
 */
export function parseLsn(text: string): bigint {
  const m = LSN_RE.exec(text);
  if (m === null) {
    throw new SyntaxError(`Cannot parse LSN ${JSON.stringify(text.slice(0, 40))}: expected X/X`);
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}
