/**
 * Follows one session's conversation after login and turns it into statement events. Client
 * messages queue up what the server will answer (Parse, Bind, Describe, Execute, Close, Sync,
 * Query, FunctionCall: `op_queue.ts`); server messages answer them strictly in order, which is
 * how pipelining is followed without guessing. Each statement's outcome — CommandComplete with its
 * tag and row count, or the ErrorResponse — becomes one event carrying the statement's text
 * and bind parameters, its duration and, once the server said it, the transaction state after
 * it. After an error in the extended protocol the server skips to the next Sync, and so does
 * the queue.
 *
 * The tracker never sees more than the captured head of a message (`FrameScanner`, as much as
 * `capture.ts` says): text past `recordBytes` is left out and the event says how long it was.
 * It keeps statements and portals within a byte budget (`kept.ts`).
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import type { Frame } from "../../daemon/pgwire/frames.ts";
import {
  parseBind,
  parseExecute,
  parseParse,
  parseTarget,
  queryText,
} from "../../daemon/pgwire/frontend.ts";
import { micros, type SessionEvents } from "./events.ts";
import { type OpFields, OpQueue } from "./op_queue.ts";
import { KeptMap, type KeptPortal, type KeptStatement } from "./kept.ts";
import type { PgNotice } from "../../daemon/pgwire/errors.ts";
import { keepNotice, safeNotice } from "./notices.ts";
import { capText, type Op, type OpKind, stateAfter, statementEvent } from "./statement_event.ts";

const decoder = new TextDecoder();

/** What the server and the client said in one session, as events. */
export class SessionTracker {
  readonly #events: SessionEvents;
  readonly #recordBytes: number;
  readonly #queue = new OpQueue();
  readonly #statements: KeptMap<KeptStatement>;
  readonly #portals: KeptMap<KeptPortal>;
  #copy: Op | undefined;
  /** A CopyInResponse or CopyBothResponse came, and the statement has not completed since. */
  #copyIn = false;
  #out: NewEvent[] = [];
  /** Events still without the server's word on the transaction state, with the implied one. */
  #unsettled: { ev: NewEvent; implied: string }[] = [];
  /** The transaction state after the last completed statement, as far as known or implied. */
  #state = "I";
  #holdFrom = -1;
  /** The client sent Terminate. */
  terminated = false;
  /** A server error that answered nothing the client asked (e.g. an administrator's kill). */
  lastServerError: PgNotice | undefined;

  constructor(events: SessionEvents, opts: { recordBytes: number; keptBytes: number }) {
    this.#events = events;
    this.#recordBytes = opts.recordBytes;
    this.#statements = new KeptMap(opts.keptBytes);
    this.#portals = new KeptMap(opts.keptBytes);
  }

  /** Requests the server has yet to answer. */
  get pending(): number {
    return this.#queue.length;
  }

  /** A message from the client (after login). Throws `SyntaxError` for a malformed one. */
  fromClient(f: Frame): void {
    const complete = f.body.length === f.length;
    switch (f.type) {
      case 0x51: { // Q
        const { text, cut } = capText(queryText(f.body, complete), this.#recordBytes);
        // The body is the text and its NUL: the text's length is exact.
        this.#push("query", { text, cutBytes: cut || !complete ? f.length - 1 : undefined });
        break;
      }
      case 0x50: { // P
        const p = parseParse(f.body, complete);
        const { text, cut } = capText(p.query, this.#recordBytes);
        const st: KeptStatement = { text, types: p.paramTypes };
        // Cut short, the parameter count is unknown: the message less its name is an upper bound.
        if (p.cut || cut) st.cutBytes = f.length - new TextEncoder().encode(p.name).length - 4;
        this.#statements.set(p.name, st, text.length * 2 + 64);
        this.#push("parse", { text, cutBytes: st.cutBytes, statementName: p.name });
        break;
      }
      case 0x42: { // B
        // The body may be a view of the chunk, which the portal outlives: it keeps each value
        // as its text (text format: what the event shows whatever the type) or a copy.
        const b = parseBind(f.body, complete);
        const values: (Uint8Array | string | null)[] = b.values;
        for (let i = 0; i < values.length; i++) {
          const v = b.values[i]!;
          if (v !== null) values[i] = b.formats[i] === 0 ? decoder.decode(v) : v.slice();
        }
        const portal: KeptPortal = {
          statementName: b.statement,
          statement: this.#statements.get(b.statement),
          formats: b.formats,
          values,
          count: b.count,
          cut: b.cut,
        };
        this.#portals.set(b.portal, portal, f.body.length + 64);
        this.#push("bind", {
          portal,
          portalName: b.portal,
          statementName: b.statement,
          text: portal.statement?.text,
          cutBytes: portal.statement?.cutBytes,
        });
        break;
      }
      case 0x45: { // E
        const { portal: name } = parseExecute(f.body);
        const portal = this.#portals.get(name);
        this.#push("execute", {
          portal,
          portalName: name,
          statementName: portal?.statementName ?? "",
          text: portal?.statement?.text,
          cutBytes: portal?.statement?.cutBytes,
        });
        break;
      }
      case 0x44: { // D
        const t = parseTarget(f.body, "a Describe message");
        this.#push("describe", { describe: t.kind, statementName: t.name });
        break;
      }
      case 0x43: { // C
        const t = parseTarget(f.body, "a Close message");
        if (t.kind === "S") this.#statements.delete(t.name);
        else this.#portals.delete(t.name);
        this.#push("close", {});
        break;
      }
      case 0x53: // S
        this.#push("sync", {});
        break;
      case 0x46: { // F
        const oid = f.body.length >= 4
          ? new DataView(f.body.buffer, f.body.byteOffset).getUint32(0)
          : 0;
        this.#push("function", { text: `function call (oid ${oid})` });
        break;
      }
      case 0x64: // d CopyData
        if (this.#copy) this.#copy.bytesIn += f.length;
        break;
      case 0x58: // X
        this.terminated = true;
        break;
    }
  }

  /**
   * A statement's result has begun (rows, a row description, COPY out data) and its
   * completion has not come yet.
   */
  get resultOpen(): boolean {
    return this.#resultOpen;
  }

  #resultOpen = false;

  /** The result of the statement at the head of the queue goes on in `f`. */
  #resultGoesOn(head: Op | undefined, f: Frame): void {
    if (head?.kind !== "query" && head?.kind !== "execute") return;
    this.#resultOpen = true;
    if (this.#holdFrom < 0) this.#holdFrom = Math.max(0, f.start);
  }

  /**
   * The clock reading of the chunk being looked at: -1 until taken, NaN when no chunk was
   * begun (a reading a message then).
   */
  #clock = NaN;

  /**
   * Starts a chunk from the server: {@link holdFrom} counts from its start, and the messages
   * in it share one clock reading (they arrived together).
   */
  beginChunk(): void {
    this.#holdFrom = -1;
    this.#clock = -1;
  }

  /** Starts a chunk from the client: the messages in it share one clock reading. */
  beginClientChunk(): void {
    this.#clock = -1;
  }

  /** `performance.now()`, read once a chunk. */
  #now(): number {
    if (this.#clock >= 0) return this.#clock;
    const now = performance.now();
    if (this.#clock === -1) this.#clock = now;
    return now;
  }

  /** Offset in the current server chunk of the first completion that made an event, or -1. */
  get holdFrom(): number {
    return this.#holdFrom;
  }

  /**
   * Whether the server will send a ReadyForQuery without waiting for the client: a Sync,
   * Query or FunctionCall is queued. Until then, an event waiting for the transaction state
   * after it would wait on the client, which may itself be waiting for the result.
   */
  get owesReady(): boolean {
    return this.#queue.owesReady;
  }

  /**
   * The server waits for the client's COPY data: nothing before the CopyInResponse may wait
   * for the ReadyForQuery after it, which comes only once the client has sent its data.
   */
  get waitsOnClient(): boolean {
    return this.#copyIn;
  }

  /** Events made and not yet taken. */
  get waiting(): number {
    return this.#out.length;
  }

  /**
   * The events made since the last call, once the ReadyForQuery after them has told the
   * transaction state; with `force`, also those still waiting for it, with the state their
   * outcomes imply.
   */
  take(force: boolean): NewEvent[] {
    if (this.#unsettled.length > 0 && !force) {
      const settled = this.#out.length - this.#unsettled.length;
      return settled === 0 ? [] : this.#out.splice(0, settled);
    }
    for (const u of this.#unsettled) (u.ev.context as JsonObject).tx_status = u.implied;
    const out = this.#out;
    this.#out = [];
    this.#unsettled = [];
    return out;
  }

  /** A message from the server (after login). */
  fromServer(f: Frame): void {
    const head = this.#queue.head;
    switch (f.type) {
      case 0x44: // D DataRow
        if (head) head.rows++;
        this.#resultGoesOn(head, f);
        break;
      case 0x43: { // C CommandComplete
        if (!head || (head.kind !== "query" && head.kind !== "execute")) break;
        const tag = decoder.decode(f.body.subarray(0, Math.max(0, f.body.length - 1)));
        this.#complete(head, f, { tag });
        if (head.kind === "execute") this.#queue.shift();
        break;
      }
      case 0x73: // s PortalSuspended
        if (head?.kind !== "execute") break;
        this.#complete(head, f, { suspended: true });
        this.#queue.shift();
        break;
      case 0x49: // I EmptyQueryResponse
        if (head?.kind === "execute") this.#queue.shift();
        else if (head?.kind === "query") head.part++;
        break;
      case 0x45: { // E ErrorResponse
        const notice = safeNotice(f.body);
        if (!head) {
          this.lastServerError = notice;
          break;
        }
        this.#complete(head, f, { error: notice });
        if (head.kind !== "query" && head.kind !== "function" && head.kind !== "sync") {
          this.#queue.skipToSync();
        }
        break;
      }
      case 0x56: // V FunctionCallResponse
        if (head?.kind === "function") this.#complete(head, f, {});
        break;
      case 0x5a: { // Z ReadyForQuery
        const status = String.fromCharCode(f.body[0] ?? 0x49);
        this.#resultOpen = false;
        for (const u of this.#unsettled) (u.ev.context as JsonObject).tx_status = status;
        this.#unsettled = [];
        this.#state = status;
        this.#copy = undefined;
        this.#copyIn = false;
        this.#queue.answerReady();
        if (status === "I") this.#portals.clear();
        break;
      }
      case 0x31: // 1 ParseComplete
      case 0x32: // 2 BindComplete
      case 0x33: // 3 CloseComplete
      case 0x6e: // n NoData
        if (head && head.kind !== "query" && head.kind !== "execute") this.#queue.shift();
        break;
      case 0x54: // T RowDescription
        if (head?.kind === "describe") this.#queue.shift();
        else this.#resultGoesOn(head, f);
        break;
      case 0x74: // t ParameterDescription
        if (head?.kind === "describe") this.#noteParamTypes(head, f.body);
        break;
      case 0x47: // G CopyInResponse: the client must see it to send, so it is never held
      case 0x57: // W CopyBothResponse
        this.#copy = head;
        this.#copyIn = true;
        break;
      case 0x48: // H CopyOutResponse
        this.#copy = head;
        this.#resultGoesOn(head, f);
        break;
      case 0x64: // d CopyData
        if (this.#copy) this.#copy.bytesOut += f.length;
        this.#resultGoesOn(head, f);
        break;
      case 0x4e: // N NoticeResponse
        if (head) keepNotice(head, f.body);
        break;
    }
  }

  /** Queues a request; one clock reading is its event's timestamp and its duration's start. */
  #push(kind: OpKind, fields: OpFields): void {
    this.#queue.push(kind, fields, this.#now());
  }

  /** ParameterDescription: the types the server chose for the described statement. */
  #noteParamTypes(op: Op, body: Uint8Array): void {
    const st = op.describe === "S" ? this.#statements.get(op.statementName ?? "") : undefined;
    if (st === undefined) return;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const n = body.length >= 2 ? view.getInt16(0) : 0;
    for (let i = 0; i < n && 2 + 4 * i + 4 <= body.length; i++) {
      if (!st.types[i]) st.types[i] = view.getUint32(2 + 4 * i);
    }
  }

  #complete(
    op: Op,
    f: Frame,
    outcome: { tag?: string; error?: PgNotice; suspended?: boolean },
  ): void {
    const now = this.#now();
    const ev = statementEvent(op, outcome, {
      events: this.#events,
      recordBytes: this.#recordBytes,
      now,
    });
    this.#resultOpen = false;
    this.#copyIn = false;
    this.#state = stateAfter(this.#state, outcome, op.text);
    this.#out.push(ev);
    this.#unsettled.push({ ev, implied: this.#state });
    if (this.#holdFrom < 0) this.#holdFrom = Math.max(0, f.start);
    op.part++;
    op.rows = 0;
    op.bytesIn = 0;
    op.bytesOut = 0;
    op.notices = undefined;
    op.t0 = now;
    op.ts = micros(now);
  }
}
