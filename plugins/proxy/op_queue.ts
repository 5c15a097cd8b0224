/**
 * The requests of one proxied session that the server has yet to answer, in the order it
 * answers them (which is how the tracker follows pipelining without guessing), and how many
 * ReadyForQuery messages it owes for them: one for each queued Sync, Query or FunctionCall.
 */

import { micros } from "./events.ts";
import type { Op, OpKind } from "./statement_event.ts";

/** What {@link OpQueue.push} sets of an op besides its kind. */
export type OpFields = Partial<
  Pick<Op, "text" | "cutBytes" | "statementName" | "portal" | "portalName" | "describe">
>;

/** Whether the server answers an op of `kind` with a ReadyForQuery. */
function endsWithReady(kind: OpKind): boolean {
  return kind === "sync" || kind === "query" || kind === "function";
}

/** A session's unanswered requests. */
export class OpQueue {
  readonly #ops: Op[] = [];
  #owed = 0;

  /** Requests the server has yet to answer. */
  get length(): number {
    return this.#ops.length;
  }

  /** The request the server answers next. */
  get head(): Op | undefined {
    return this.#ops[0];
  }

  /** Whether a ReadyForQuery is owed without the client sending more. */
  get owesReady(): boolean {
    return this.#owed > 0;
  }

  /** Queues a request made at clock reading `t0` (its event's timestamp and duration start). */
  push(kind: OpKind, fields: OpFields, t0: number): void {
    this.#ops.push({
      kind,
      ts: micros(t0),
      t0,
      text: fields.text,
      cutBytes: fields.cutBytes,
      statementName: fields.statementName,
      portal: fields.portal,
      portalName: fields.portalName,
      describe: fields.describe,
      rows: 0,
      part: 0,
      bytesIn: 0,
      bytesOut: 0,
      notices: undefined,
    });
    if (endsWithReady(kind)) this.#owed++;
  }

  /** Drops the request at the head, answered. */
  shift(): Op | undefined {
    const op = this.#ops.shift();
    if (op !== undefined && endsWithReady(op.kind)) this.#owed--;
    return op;
  }

  /** After an error in the extended protocol the server skips to the next Sync: so does this. */
  skipToSync(): void {
    while (this.#ops.length > 0 && this.#ops[0]!.kind !== "sync") this.shift();
  }

  /** A ReadyForQuery: drops everything up to and including the request it answers. */
  answerReady(): void {
    while (this.#ops.length > 0) {
      if (endsWithReady(this.shift()!.kind)) break;
    }
  }
}
