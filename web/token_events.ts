/**
 * What an ingest token may post, so that its events can never pass for a source's or Vigil's
 * own. A token posts `app` events only: `system` events (gaps, heartbeats, the daemon's start
 * and stop, key handovers) and the kinds the database sources produce are theirs. Its events
 * may not carry the commands Vigil and its sources give meaning to (`WAL_GAP`, `DAEMON_STOP`,
 * `KEY_ROTATE`, …) nor the context keys Vigil reads (`audit_reduced`, anything `vigil…`). A
 * token may not be named like a configured source, or `vigil…` (`daemon/access/tokens.ts`), and
 * its identity — id, name and the first characters of its secret — is stamped into each event's
 * `context.vigil_token`, in the chain with the event.
 */

import type { ApiToken } from "../daemon/access/mod.ts";
import { ACK_COMMAND } from "../daemon/detect/event_facts.ts";
import type { JsonObject, NewEvent } from "../daemon/event/model.ts";
import { EventValidationError } from "../daemon/event/validate.ts";
import { GAP_COMMANDS, SOURCE_PLUGINS } from "../plugins/mod.ts";
import type { WebDeps } from "./deps.ts";

/** The one kind a token posts. */
export const TOKEN_KIND = "app";

/** The context key that carries the posting token. */
export const TOKEN_CONTEXT_KEY = "vigil_token";

/** Commands of Vigil's own events and its sources' alarms, upper case. */
const RESERVED_COMMANDS: ReadonlySet<string> = new Set([
  ...GAP_COMMANDS.gap,
  ...GAP_COMMANDS.recovery,
  ACK_COMMAND,
  "DAEMON_START",
  "DAEMON_STOP",
  "DAEMON_RELOAD",
  "KEY_ROTATE",
  "KEY_LOSS_DECLARED",
  "RETENTION_DELETE",
  // A WAL source's configuration reading: the configuration view shows the latest.
  "PG_CONFIG",
  "PG_CONFIG_CHANGED",
]);

/**
 * Families of commands that Vigil, its daemon, its store or a source plugin names: a plugin's
 * own commands start with its type in upper case (`WAL_GAP`, `PGAUDIT_FILE_UNREAD`).
 */
const RESERVED_PREFIXES = new RegExp(
  `^(${
    ["VIGIL", "DAEMON", "STORE", ...SOURCE_PLUGINS.map((p) => p.type.toUpperCase())]
      .join("|")
  })_`,
);

/** Context keys Vigil gives meaning to (detection reads `audit_reduced` on any event). */
function reservedContextKey(key: string): boolean {
  return key === "audit_reduced" || /^vigil/i.test(key);
}

/** True when `command` is one of Vigil's own or its sources' alarms (any case). */
export function reservedCommand(command: string): boolean {
  const c = command.trim().toUpperCase();
  return RESERVED_COMMANDS.has(c) || RESERVED_PREFIXES.test(c);
}

/**
 * Throws `EventValidationError` naming the field when a checked event is not one a token may
 * post: another kind than `app`, a reserved command, or a reserved context key.
 */
export function checkTokenEvent(ev: NewEvent): void {
  if (ev.kind !== TOKEN_KIND) {
    throw new EventValidationError(
      "kind",
      `a token posts "${TOKEN_KIND}" events only; "${ev.kind}" events come from Vigil and its ` +
        "configured sources",
    );
  }
  if (ev.command !== undefined && reservedCommand(ev.command)) {
    throw new EventValidationError(
      "command",
      `${JSON.stringify(ev.command)} is reserved for Vigil's own events and its sources' alarms`,
    );
  }
  for (const key of Object.keys(ev.context ?? {})) {
    if (reservedContextKey(key)) {
      throw new EventValidationError(
        "context",
        `the key ${JSON.stringify(key)} is reserved: Vigil sets or reads it`,
      );
    }
  }
}

/** The event with the token's identity in its context. */
export function stampToken(ev: NewEvent, token: ApiToken): NewEvent {
  const id: JsonObject = { id: token.id, name: token.name, prefix: token.prefix };
  return { ...ev, context: { ...ev.context, [TOKEN_CONTEXT_KEY]: id } };
}

/**
 * The names of the configured sources the daemon knows: those it runs (after every reload) and
 * those of the configuration it started with.
 */
export function configuredSourceNames(deps: WebDeps): Set<string> {
  const names = new Set(deps.status.current().sources.map((s) => s.name));
  const sources = (deps.config as { sources?: unknown } | undefined)?.sources;
  if (Array.isArray(sources)) {
    for (const s of sources) {
      const name = (s as { name?: unknown } | null)?.name;
      if (typeof name === "string") names.add(name);
    }
  }
  return names;
}

/** The configured source a token name would pass for (compared ignoring case), or null. */
export function sourceClash(name: string, sources: Iterable<string>): string | null {
  const lower = name.toLowerCase();
  for (const s of sources) if (s.toLowerCase() === lower) return s;
  return null;
}
