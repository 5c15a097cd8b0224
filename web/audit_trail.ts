/**
 * The UI's own audit trail: each login, failed login, logout, and each action that reads or
 * exports audit data becomes an `app` event of source `vigil-ui` in the chain — durable before
 * the data is shown, so that no one reads the trail without leaving a trace in it. If the event
 * cannot be stored, the action fails.
 *
 * Who acted and from where are read from the request while it is open ({@link uiActor}): what
 * is recorded after the answer (a verification's result, a download the browser abandoned) is
 * recorded with that, since the request itself may be gone by then.
 */

import type { JsonObject, NewEvent } from "../daemon/event/model.ts";
import { validateEvent } from "../daemon/event/validate.ts";
import type { WebDeps } from "./deps.ts";
import { actorName, clientAddr, type WebContext } from "./env.ts";

/** The `source` of the UI's events. */
export const UI_SOURCE = "vigil-ui";

/** What the UI records: LOGIN, LOGIN_FAILED, LOGOUT, SEARCH, VIEW_EVENT, EXPORT, … */
export interface UiAction {
  command: string;
  /** The acting user when not the context's (a login attempt names the user it tried). */
  actor?: string;
  /** What was acted on (`event 42`, a token name, a user name). */
  object?: string;
  /** Details: the filters of a search, the period of an export. */
  context?: JsonObject;
  /** Set for refusals and failures. */
  error?: string;
}

/** Who acts and from which address, as captured while the request is open. */
export interface UiActor {
  readonly name: string;
  /** The client address; `""` for an event about many. */
  readonly addr: string;
}

/** The acting user (or token) and client address of a request; read it before answering. */
export function uiActor(c: WebContext, name?: string): UiActor {
  return { name: name ?? actorName(c), addr: clientAddr(c) };
}

/** Appends one UI event for the request's actor and waits until it is durable. */
export function recordUiAction(deps: WebDeps, c: WebContext, action: UiAction): Promise<void> {
  return recordAs(deps, uiActor(c, action.actor), action);
}

/**
 * Appends one UI event for an actor captured earlier and waits until it is durable: for what
 * happens after the answer, when the request can no longer be read.
 */
export async function recordAs(deps: WebDeps, who: UiActor, action: UiAction): Promise<void> {
  const nowMs = (deps.now ?? Date.now)();
  const actor = action.actor ?? who.name;
  const raw: Record<string, unknown> = {
    ts: nowMs * 1000,
    kind: "app",
    role: actor,
    app_user: actor,
    client_addr: who.addr === "" ? undefined : who.addr,
    application_name: "vigil-web",
    command: action.command,
    object: action.object,
    context: action.context,
    error: action.error,
  };
  const ev: NewEvent = validateEvent(raw, { source: UI_SOURCE, ingestTs: nowMs * 1000 });
  await deps.store.append({ source: UI_SOURCE, events: [ev] });
}
