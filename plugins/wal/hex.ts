/**
 * Bytes as PostgreSQL's bytea hex text (`\x0aff…`): how the WAL source keeps, in an event's
 * `raw`, input it could not read as text, so that nothing is dropped and the form is one an
 * auditor can paste into `decode(…, 'hex')` or read as bytea.
 */

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * `\x` followed by two lower-case hex digits a byte.
 *
 * @example
 * byteaHex(new Uint8Array([0, 255])); // "\\x00ff"
 */
export function byteaHex(bytes: Uint8Array): string {
  let out = "\\x";
  for (const b of bytes) out += HEX[b]!;
  return out;
}
