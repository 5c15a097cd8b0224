/**
 * The one interface every collection method implements (WAL, pgAudit logs, the proxy, cloud
 * log APIs). A source reads from where it starts — the last position the store made durable —
 * emits batches of events with the position after them, and advances its own upstream
 * acknowledgement (a replication slot's flush LSN, nothing for a log file) only once `emit`
 * has resolved, i.e. once the batch is fsynced. That is what makes collection exactly-once.
 *
 * Beside it, {@link SourcePlugin}: one per `type`, all the core asks of a kind of source (its
 * config fields, what it reaches, its gap commands, gauges, probe), so that the core never
 * branches on a type name. The registry of plugins is `plugins/mod.ts`, handed to the core by
 * whoever wires it together; `daemon/` never imports a plugin.
 */

import type { NewEvent } from "./event/model.ts";
import type { RedactOptions } from "./event/redact.ts";
import { type ConfigField, ConfigKeyError } from "./config/fields.ts";

/** A batch of events and the source's position after them. */
export interface SourceBatch {
  events: NewEvent[];
  /** Where to resume after this batch; stored in the same write as its events. */
  position?: string;
}

/** What the pipeline gives a running source. */
export interface SourceContext {
  /** The configured name: the `source` of every event it emits. */
  readonly name: string;
  /** The last durable position of this source, or undefined on its first start. */
  readonly position: string | undefined;
  /** Stores a batch; resolves once it is durable. Rejects if it could not be stored. */
  emit(batch: SourceBatch): Promise<void>;
  /**
   * Derived state the source saved last with {@link SourceContext.saveState} (e.g. the last
   * reading of the server's configuration, to compare the next one with after a restart), or
   * undefined. Kept by the store beside the position; not an event.
   */
  readonly state?: string | undefined;
  /** Saves derived state durably (a few KiB at most, rarely: it is written whole each time). */
  saveState?(state: string): Promise<void>;
  /**
   * A directory of the source's own in the data directory, kept across restarts, for a
   * write-ahead spool of events not yet stored (`daemon/spool/`). Undefined where the source
   * runs without a data directory.
   */
  readonly spoolDir?: string;
  /** Aborted when the source must stop (shutdown, reload). */
  readonly signal: AbortSignal;
  /**
   * Reports a source-specific gauge for health and metrics, e.g. `connected` (0/1),
   * `lag_bytes` (how far a replication slot trails the server) or `last_commit_age_seconds`.
   */
  gauge?(name: string, value: number): void;
}

/** A collection method, running until its signal aborts or it fails. */
export interface Source {
  run(ctx: SourceContext): Promise<void>;
  /**
   * The redaction its `[[sources]]` table asks for (`redact`, `redact_defaults`; see
   * `redactionFromTable`). The pipeline redacts every emitted event, not the source: absent,
   * the built-in rules apply.
   */
  readonly redaction?: RedactOptions;
}

/** Where a source failed, for logs, metrics and the supervisor's backoff. */
export type SourceStage = "connect" | "receive" | "decode" | "store";

/** A source failure with the stage it happened in. */
export class SourceError extends Error {
  override name = "SourceError";
  readonly stage: SourceStage;
  constructor(stage: SourceStage, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.stage = stage;
  }
}

/** One path a source reads. */
export interface SourceRead {
  /** The table key that names it (or that it is derived from). */
  key: string;
  path: string;
  /** A credential the source reads but never stores (a password file). */
  secret?: boolean;
}

/**
 * What a source built from a table reaches, and nothing more: granted as Deno permissions to
 * the daemon (`daemon/config/permissions.ts`) and fenced out of the data directory
 * (`daemon/config/source_paths.ts`), so that the two can never disagree.
 */
export interface SourceReach {
  read: SourceRead[];
  /** `host:port` it connects to or listens on (IPv6 in brackets). */
  net: string[];
  /** Unix sockets it writes to (connecting needs write on the socket file). */
  write: string[];
}

/** A gauge a source reports through `SourceContext.gauge`, exposed as `vigil_source_<name>`. */
export interface GaugeSpec {
  readonly name: string;
  readonly help: string;
}

/** What "Test connection" found: one finding a line, and whether the source could run. */
export interface ProbeResult {
  ok: boolean;
  lines: string[];
}

/**
 * One kind of source, as a `[[sources]]` table of the configuration names it by `type`: all the
 * core asks of a type, so that the core keeps no branch on a type name. A new source type is
 * its folder under `plugins/` and one line in the registry (`plugins/mod.ts`); the source
 * contract test (`tests/plugins/contract_test.ts`) runs every registered plugin.
 */
export interface SourcePlugin {
  /** The `type` key's value, e.g. `"wal"`. */
  readonly type: string;
  /** Its name in messages, e.g. `"WAL source"`. */
  readonly label: string;
  /**
   * The table's keys besides `name` and `type`, checked by the core (unknown keys, kinds,
   * ranges, required keys) before `validate`, and shown in the Administration form.
   */
  readonly fields: readonly ConfigField[];
  /**
   * Checks what the field list cannot (a DSN's syntax, a glob, keys that go together) without
   * connecting anywhere. Throws `ConfigKeyError` naming the key, so that `vigil validate` can
   * point at its line.
   */
  validate(table: Readonly<Record<string, unknown>>): void;
  /** Builds the source from a table; throws as `validate` does. */
  create(table: Readonly<Record<string, unknown>>): Source;
  /**
   * The files, hosts and sockets a source of this (checked) table reaches: its Deno
   * permissions. Throws `ConfigKeyError` for a table it cannot read them from.
   */
  reach(table: Readonly<Record<string, unknown>>): SourceReach;
  /**
   * The `system` event commands it stores when its record may be incomplete (a lost slot, a
   * log file gone unread): alarms for detection, gaps for the compliance report.
   */
  readonly gapCommands: readonly string[];
  /** The commands that close one of its earlier gaps (a heartbeat back). */
  readonly recoveryCommands: readonly string[];
  /** The gauges it reports. */
  readonly gauges: readonly GaugeSpec[];
  /**
   * "Test connection": checks, read-only and with a timeout, that a source built from this
   * table could run (server reachable, rights, files readable), one finding per line. Never
   * throws for what it finds; lines hold no secret.
   */
  probe(table: Readonly<Record<string, unknown>>): Promise<ProbeResult>;
  /**
   * `vigil bench <type> …`: its benchmark, loaded only when asked for (a dynamic import, so
   * that no bench code sits on the source's path); resolves with the exit code. Absent: none.
   */
  readonly bench?: (argv: string[]) => Promise<number>;
}

/** The plugin of a source `type` among `plugins`. Throws `ConfigKeyError` for `type`. */
export function findSourcePlugin(
  plugins: readonly SourcePlugin[],
  type: unknown,
): SourcePlugin {
  const plugin = plugins.find((p) => p.type === type);
  if (plugin === undefined) {
    const known = plugins.map((p) => `"${p.type}"`).join(", ");
    throw new ConfigKeyError(
      "type",
      `Unknown source type ${JSON.stringify(type)}: use one of ${known}`,
    );
  }
  return plugin;
}
