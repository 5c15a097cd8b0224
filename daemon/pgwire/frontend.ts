/**
 * Decodes the messages a client sends — the startup packet and the extended protocol's Parse,
 * Bind, Execute, Describe and Close — from bodies that may have been cut short: a relay keeps
 * only the first bytes of a huge message, so every decoder returns what the captured bytes
 * hold and says what was cut, instead of failing. A body that is malformed within the bytes it
 * has (a count that runs past a complete message, a missing terminator) is a `SyntaxError`.
 */

const decoder = new TextDecoder();

/** Protocol 3.0. */
export const PROTOCOL_3 = 196608;

/** A startup packet's version code and, for protocol 3, its parameters in order. */
export interface StartupPacket {
  code: number;
  params: Map<string, string>;
}

/** Decodes a startup packet body (after its int32 length): code, then `key\0value\0`… `\0`. */
export function parseStartup(body: Uint8Array): StartupPacket {
  if (body.length < 4) throw new SyntaxError(`A startup packet of ${body.length + 4} bytes`);
  const code = new DataView(body.buffer, body.byteOffset, body.byteLength).getInt32(0);
  const params = new Map<string, string>();
  if (code >> 16 !== 3) return { code, params };
  let pos = 4;
  for (;;) {
    if (pos >= body.length) throw new SyntaxError("A startup packet without its final NUL");
    if (body[pos] === 0) break;
    const key = cstring(body, pos, "a startup parameter name");
    pos = key.next;
    if (pos >= body.length) throw new SyntaxError(`Startup parameter "${key.text}" has no value`);
    const value = cstring(body, pos, `startup parameter "${key.text}"`);
    pos = value.next;
    params.set(key.text, value.text);
  }
  return { code, params };
}

/** A NUL-terminated string at `pos`; throws `SyntaxError` naming `what` if unterminated. */
function cstring(body: Uint8Array, pos: number, what: string): { text: string; next: number } {
  const end = body.indexOf(0, pos);
  if (end < 0) throw new SyntaxError(`Unterminated ${what}`);
  return { text: decoder.decode(body.subarray(pos, end)), next: end + 1 };
}

/** Reads fields from a body that may be cut short (`complete` false). */
class BodyReader {
  pos = 0;
  cut = false;
  readonly #body: Uint8Array;
  readonly #view: DataView;
  readonly #complete: boolean;
  readonly #what: string;

  constructor(body: Uint8Array, complete: boolean, what: string) {
    this.#body = body;
    this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    this.#complete = complete;
    this.#what = what;
  }

  /** A string up to NUL; the rest if cut short there. Undefined past the captured bytes. */
  cstring(): string | undefined {
    if (this.#short(1)) return undefined;
    const end = this.#body.indexOf(0, this.pos);
    if (end < 0) {
      if (this.#complete) throw new SyntaxError(`Unterminated string in ${this.#what}`);
      const text = decoder.decode(this.#body.subarray(this.pos));
      this.pos = this.#body.length;
      this.cut = true;
      return text;
    }
    const text = decoder.decode(this.#body.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  int16(): number | undefined {
    if (this.#short(2)) return undefined;
    const v = this.#view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number | undefined {
    if (this.#short(4)) return undefined;
    const v = this.#view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  /** `n` bytes, or undefined if they were not all captured. */
  bytes(n: number): Uint8Array | undefined {
    if (this.#short(n)) return undefined;
    const v = this.#body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Up to `n` bytes: all of them, or what was captured of a body cut short. */
  upTo(n: number): Uint8Array | undefined {
    const v = this.bytes(n);
    if (v !== undefined || this.pos >= this.#body.length) return v;
    const part = this.#body.subarray(this.pos);
    this.pos = this.#body.length;
    return part;
  }

  /** A count of items of at least `size` bytes each, checked against a complete body. */
  count(size: number): number | undefined {
    const n = this.int16();
    if (n === undefined) return undefined;
    if (n < 0) throw new SyntaxError(`Negative count ${n} in ${this.#what}`);
    if (this.#complete && this.pos + n * size > this.#body.length) {
      throw new SyntaxError(`Count ${n} runs past the end of ${this.#what}`);
    }
    return n;
  }

  #short(n: number): boolean {
    if (this.pos + n <= this.#body.length) return false;
    if (this.#complete) throw new SyntaxError(`${this.#what} ends early`);
    this.cut = true;
    return true;
  }
}

/** Parse ('P'): statement name, query text, parameter type OIDs. */
export interface ParseMessage {
  name: string;
  query: string;
  paramTypes: number[];
  /** The query text was cut (a huge message kept in part). */
  cut: boolean;
}

/** Decodes a Parse body; `complete` says whether `body` is the whole body. */
export function parseParse(body: Uint8Array, complete: boolean): ParseMessage {
  const r = new BodyReader(body, complete, "a Parse message");
  const name = r.cstring() ?? "";
  const query = r.cstring() ?? "";
  const paramTypes: number[] = [];
  const n = r.count(4) ?? 0;
  for (let i = 0; i < n; i++) {
    const oid = r.int32();
    if (oid === undefined) break;
    paramTypes.push(oid >>> 0);
  }
  return { name, query, paramTypes, cut: r.cut };
}

/** Bind ('B'): portal, statement, each parameter's format and bytes (null: SQL NULL). */
export interface BindMessage {
  portal: string;
  statement: string;
  /** 0 text, 1 binary, per parameter (expanded from the one-or-all format list). */
  formats: number[];
  /**
   * Values as sent; null for NULL. When the body was cut, the last value kept may be only
   * its first bytes, and the values after it are missing.
   */
  values: (Uint8Array | null)[];
  /** Number of parameters the message declares. */
  count: number;
  cut: boolean;
}

/** Decodes a Bind body; `complete` says whether `body` is the whole body. */
export function parseBind(body: Uint8Array, complete: boolean): BindMessage {
  const r = new BodyReader(body, complete, "a Bind message");
  const portal = r.cstring() ?? "";
  const statement = r.cstring() ?? "";
  const formatCodes: number[] = [];
  const nf = r.count(2) ?? 0;
  for (let i = 0; i < nf; i++) {
    const f = r.int16();
    if (f === undefined) break;
    formatCodes.push(f);
  }
  const count = r.count(4) ?? 0;
  const values: (Uint8Array | null)[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.int32();
    if (len === undefined) break;
    if (len === -1) {
      values.push(null);
      continue;
    }
    if (len < -1) throw new SyntaxError(`Bad parameter length ${len} in a Bind message`);
    const v = r.upTo(len);
    if (v === undefined) break;
    values.push(v);
    if (v.length < len) break;
  }
  // A loop, not Array.from with a callback: a Bind comes with every execution.
  const formats: number[] = [];
  for (let i = 0; i < count; i++) {
    formats.push(formatCodes.length === 1 ? formatCodes[0]! : formatCodes[i] ?? 0);
  }
  return { portal, statement, formats, values, count, cut: r.cut };
}

/** Execute ('E'): portal and row limit (0: all). */
export function parseExecute(body: Uint8Array): { portal: string; maxRows: number } {
  const r = new BodyReader(body, true, "an Execute message");
  const portal = r.cstring() ?? "";
  return { portal, maxRows: r.int32() ?? 0 };
}

/** Describe ('D') or Close ('C'): `S` for a statement or `P` for a portal, and its name. */
export function parseTarget(body: Uint8Array, what: string): { kind: "S" | "P"; name: string } {
  const r = new BodyReader(body, true, what);
  const kind = r.bytes(1)?.[0];
  if (kind !== 0x53 && kind !== 0x50) {
    throw new SyntaxError(`${what} names neither a statement nor a portal`);
  }
  return { kind: kind === 0x53 ? "S" : "P", name: r.cstring() ?? "" };
}

/** The text of a Query ('Q') body, as far as captured (without its NUL). */
export function queryText(body: Uint8Array, complete: boolean): string {
  const end = body.indexOf(0);
  if (end < 0 && complete) throw new SyntaxError("Unterminated query text in a Query message");
  return decoder.decode(end < 0 ? body : body.subarray(0, end));
}
