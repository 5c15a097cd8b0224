/**
 * The events one proxied session produces, with what every one of them carries: the session's
 * proxy-assigned id, who (startup user, database, application, client address) and a position
 * `<session_id>#<n>` that no other event of any run shares — session ids are fresh per run and
 * a session never outlives the run that accepted it, so nothing is ever emitted twice.
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";

/** Who a session is, once its startup packet has been read. */
export interface SessionInfo {
  sessionId: string;
  clientAddr: string;
  clientPort: number;
  tls: boolean;
  role?: string;
  db?: string;
  applicationName?: string;
}

/** Read once: the getter is a call into the runtime, and the origin never moves. */
const ORIGIN = performance.timeOrigin;

/** Now, in µs since the Unix epoch. */
export function nowMicros(): number {
  return micros(performance.now());
}

/** A `performance.now()` reading in µs since the Unix epoch. */
export function micros(now: number): number {
  return Math.round((ORIGIN + now) * 1000);
}

/** Makes a session's events in order, numbering their positions. */
export class SessionEvents {
  readonly info: SessionInfo;
  readonly #source: string;
  #seq = 0;

  constructor(source: string, info: SessionInfo) {
    this.#source = source;
    this.info = info;
  }

  /** An event of this session; `fields` may override the defaults. */
  make(
    kind: NewEvent["kind"],
    command: string,
    fields: Partial<NewEvent> & { context?: JsonObject } = {},
  ): NewEvent {
    const ev = this.#base(kind, command, fields.ts ?? nowMicros());
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && key !== "ts") (ev as Record<string, unknown>)[key] = value;
    }
    return ev;
  }

  /**
   * A statement's event: what {@link make} gives for these fields, built without walking a
   * fields object, since every statement of every session makes one.
   */
  statement(
    command: string,
    ts: number,
    context: JsonObject,
    s: {
      statement: string | undefined;
      params: (string | null)[] | undefined;
      sqlstate: string | undefined;
      error: string | undefined;
    },
  ): NewEvent {
    const ev = this.#base("session", command, ts);
    ev.context = context;
    if (s.statement !== undefined) ev.statement = s.statement;
    if (s.params !== undefined) ev.params = s.params;
    if (s.sqlstate !== undefined) ev.sqlstate = s.sqlstate;
    if (s.error !== undefined) ev.error = s.error;
    return ev;
  }

  #base(kind: NewEvent["kind"], command: string, ts: number): NewEvent {
    const i = this.info;
    const ev: NewEvent = {
      ts,
      source: this.#source,
      source_pos: `${i.sessionId}#${++this.#seq}`,
      kind,
      command,
      client_addr: i.clientAddr,
      session_id: i.sessionId,
    };
    if (i.role !== undefined) ev.role = i.role;
    if (i.db !== undefined) ev.db = i.db;
    if (i.applicationName !== undefined) ev.application_name = i.applicationName;
    return ev;
  }
}
