/**
 * The WAL source's watch on its own stream, over a second, ordinary connection to the same
 * database. Every interval it writes a non-transactional `vigil.heartbeat` message into the WAL
 * and expects to read it back through the slot; the assembler tells it what came back
 * ({@link Watchdog.seen}). A heartbeat not back within the timeout — the walsender is stuck,
 * the slot decodes another database, the heartbeat cannot be written — raises one
 * `WAL_HEARTBEAT_MISSING` event per incident, and the first heartbeat back after it one
 * `WAL_HEARTBEAT_RESTORED`. At the first tick and every N ticks it also looks for the event
 * triggers and functions of `vigil pg-install` (`config_install.ts`): when the install is there
 * (or was, earlier in this run) and a trigger is gone or not ENABLE ALWAYS, a function's body
 * differs from pg-install's, or a table lacks its statement trigger, DDL or writes may no longer
 * reach the WAL with their record, and it raises `WAL_DDL_TRIGGER_MISSING` once per set of
 * problems, until the install is whole again.
 *
 * Each round also reads the slot's lag (the server's WAL end minus the slot's confirmed flush
 * position, in bytes) for health and metrics, and the server's WAL end itself: a WAL end
 * below one seen earlier in this run means the database was replaced under the source (a
 * restored backup, a failover to a server that had not received everything) — changes
 * committed in between exist nowhere any more, and that raises `WAL_LSN_BACKWARDS`.
 *
 * Nothing here throws into the source: a failed round is logged and tried again next tick, and
 * the missing-heartbeat check runs on the timer even while a round of SQL hangs.
 */

import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import { log } from "../../daemon/log.ts";
import { DDL_TRIGGERS } from "../../daemon/pg/install_sql.ts";
import { INSTALL_CHECK_SQL, installProblems, type InstallReading } from "./config_install.ts";
import type { EventOrigin } from "./change_events.ts";
import { alarmEvent, type WalAlarm } from "./gaps.ts";
import { formatLsn } from "./lsn.ts";
import { quoteLiteral } from "./replication_command.ts";
import { HEARTBEAT_PREFIX } from "./vigil_messages.ts";
import { connect, parseDsn, type QueryResult } from "../../daemon/pgwire/mod.ts";

/** The SQL a watchdog needs: one session, one statement at a time. */
interface SqlSession {
  query(sql: string): Promise<QueryResult>;
  close(): Promise<void>;
}

/** Options of {@link Watchdog}. */
export interface WatchOptions {
  origin: EventOrigin;
  slot: string;
  /** `host:port` of the server, for messages. */
  server: string;
  /** Where to write heartbeats: the source's DSN (a plain, not a replication, session). */
  dsn: string;
  intervalMs: number;
  timeoutMs: number;
  /** Look for the event triggers every this many ticks (and at the first). */
  triggerCheckEvery: number;
  /** Stores alarm events (the pump's `inject`). */
  raise: (events: NewEvent[]) => void;
  /** Reports gauges: `lag_bytes`, `slot_active` (0/1), `wal_end_bytes`. */
  gauge?: (name: string, value: number) => void;
}

/** Heartbeats kept track of while none comes back: enough for hours at any sane interval. */
const MAX_UNSEEN = 10_000;
const utf8 = new TextDecoder();

/** See the module documentation. `start()` it once the stream runs; `stop()` it after. */
export class Watchdog {
  readonly #opts: WatchOptions;
  /** Tells this run's heartbeats from an earlier run's or another source's on the database. */
  readonly #run = crypto.randomUUID();
  #seq = 0;
  #ticks = 0;
  /** Heartbeats written (or tried) and not seen back, oldest first: seq → ms when. */
  readonly #unseen = new Map<number, number>();
  #missing: { seq: number; at: number } | undefined;
  #sendError: string | undefined;
  #sawInstall = false;
  /** The problems last raised, until the install is whole again. */
  #triggerAlarm: string | undefined;
  /** The highest WAL end the server reported in this run. */
  #walEnd: bigint | undefined;
  #session: SqlSession | undefined;
  #busy = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(opts: WatchOptions) {
    this.#opts = opts;
  }

  /** Ticks now and then every interval. */
  start(): void {
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.#opts.intervalMs);
  }

  /** Stops ticking and closes the session; a round still running ends on its own. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    const session = this.#session;
    this.#session = undefined;
    await session?.close().catch(() => {}); // Going away: nothing to do about it.
  }

  /** A heartbeat came back through the stream (its message content). */
  seen(content: Uint8Array): void {
    let beat: { run?: unknown; seq?: unknown };
    try {
      beat = JSON.parse(utf8.decode(content));
    } catch {
      return; // Not one of ours; the assembler keeps whatever it stores.
    }
    if (beat?.run !== this.#run || typeof beat.seq !== "number") return;
    // The stream is in WAL order: this one back means every earlier one is behind us too.
    for (const seq of this.#unseen.keys()) {
      if (seq > beat.seq) break;
      this.#unseen.delete(seq);
    }
    const missing = this.#missing;
    if (missing === undefined) return;
    this.#missing = undefined;
    const now = Date.now();
    // Those written during the stall are on their way now: a full timeout again before they
    // count, or the incident would flap back at the next tick.
    for (const seq of this.#unseen.keys()) this.#unseen.set(seq, now);
    const after = now - missing.at;
    this.#raise("WAL_HEARTBEAT_RESTORED", undefined, {
      slot: this.#opts.slot,
      missing_seq: missing.seq,
      missing_since: new Date(missing.at).toISOString(),
      restored_after_ms: after,
    });
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#checkMissing(Date.now());
    // A round still hanging (a dead server) sends nothing more; the check above covers it.
    if (this.#busy) return;
    this.#busy = true;
    const checkTriggers = this.#ticks++ % this.#opts.triggerCheckEvery === 0;
    this.#round(checkTriggers).finally(() => (this.#busy = false));
  }

  #checkMissing(now: number): void {
    if (this.#missing !== undefined) return;
    const oldest = this.#unseen.entries().next();
    if (oldest.done) return;
    const [seq, at] = oldest.value;
    if (now - at < this.#opts.timeoutMs) return;
    this.#missing = { seq, at };
    const { slot, server, origin, timeoutMs } = this.#opts;
    const notWritten = this.#sendError === undefined
      ? ""
      : `; writing heartbeats fails: ${this.#sendError}`;
    this.#raise(
      "WAL_HEARTBEAT_MISSING",
      `Heartbeat ${seq}, written to the WAL of database "${origin.db}" on ${server} at ` +
        `${new Date(at).toISOString()}, has not come back through slot "${slot}" within ` +
        `${timeoutMs} ms: the stream is stalled or does not carry this database's WAL, and ` +
        `changes committed since may be late or missing${notWritten}`,
      {
        slot,
        heartbeat_seq: seq,
        sent_at: new Date(at).toISOString(),
        timeout_ms: timeoutMs,
        ...(this.#sendError === undefined ? {} : { send_error: this.#sendError }),
      },
    );
  }

  /** One heartbeat written, and the triggers looked at when `checkTriggers`. */
  async #round(checkTriggers: boolean): Promise<void> {
    const seq = ++this.#seq;
    this.#unseen.set(seq, Date.now());
    if (this.#unseen.size > MAX_UNSEEN) this.#unseen.delete(this.#unseen.keys().next().value!);
    try {
      const session = await this.#connected();
      if (session === undefined) return;
      const beat = JSON.stringify({
        source: this.#opts.origin.source,
        slot: this.#opts.slot,
        run: this.#run,
        seq,
        sent_at: new Date().toISOString(),
      });
      await session.query(
        `SELECT pg_catalog.pg_logical_emit_message(false, ${quoteLiteral(HEARTBEAT_PREFIX)}, ` +
          `${quoteLiteral(beat)})`,
      );
      this.#sendError = undefined;
    } catch (error) {
      this.#sendError = error instanceof Error ? error.message : String(error);
      return await this.#failed("cannot write its heartbeat", this.#sendError);
    }
    try {
      await this.#checkSlot(this.#session);
      if (checkTriggers) await this.#checkTriggers(this.#session);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      await this.#failed("cannot look for its event triggers", why);
    }
  }

  /** Logs a failed round and drops the session: a new one next round. */
  async #failed(what: string, why: string): Promise<void> {
    if (this.#stopped) return;
    const session = this.#session;
    this.#session = undefined;
    await session?.close().catch(() => {});
    log("warn", `WAL source ${what}`, { slot: this.#opts.slot, server: this.#opts.server, why });
  }

  async #connected(): Promise<SqlSession | undefined> {
    if (this.#session !== undefined) return this.#session;
    const config = { applicationName: "vigil heartbeat", ...parseDsn(this.#opts.dsn) };
    const session: SqlSession = await connect(config);
    if (this.#stopped) {
      await session.close().catch(() => {});
      return undefined;
    }
    return this.#session = session;
  }

  /** Reports the slot's lag; raises when the server's WAL end went backwards. */
  async #checkSlot(session: SqlSession | undefined): Promise<void> {
    if (session === undefined) return;
    const { rows } = await session.query(
      `SELECT pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn,
              (SELECT pg_catalog.pg_current_wal_lsn() - confirmed_flush_lsn
                 FROM pg_catalog.pg_replication_slots WHERE slot_name = ${
        quoteLiteral(this.#opts.slot)
      }),
              (SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = ${
        quoteLiteral(this.#opts.slot)
      })`,
    );
    const [end, lag, active] = rows[0] ?? [];
    if (end === null || end === undefined) return;
    const walEnd = BigInt(end.split(".")[0]!);
    const gauge = this.#opts.gauge;
    gauge?.("wal_end_bytes", Number(walEnd));
    if (lag !== null && lag !== undefined) gauge?.("lag_bytes", Math.max(0, Number(lag)));
    gauge?.("slot_active", active === "t" ? 1 : 0);
    const before = this.#walEnd;
    if (before !== undefined && walEnd < before) {
      const { origin, server, slot } = this.#opts;
      this.#raise(
        "WAL_LSN_BACKWARDS",
        `The WAL end of database "${origin.db}" on ${server} went back from ` +
          `${formatLsn(before)} to ${formatLsn(walEnd)} while slot "${slot}" was streaming: the ` +
          `server was replaced (a restored backup, a failover to a lagging standby), and ` +
          `transactions committed between the two positions are in no database any more`,
        { slot, wal_end_before: formatLsn(before), wal_end_now: formatLsn(walEnd) },
      );
    }
    if (before === undefined || walEnd > before) this.#walEnd = walEnd;
  }

  /**
   * Raises when the install is, or was, there and something of it is gone or not as pg-install
   * made it ({@link installProblems}); once per set of problems, again when the set changes.
   */
  async #checkTriggers(session: SqlSession | undefined): Promise<void> {
    if (session === undefined) return; // Stopped meanwhile.
    const { rows } = await session.query(INSTALL_CHECK_SQL);
    const reading = JSON.parse(String(rows[0]?.[0])) as InstallReading;
    const { installed, problems } = installProblems(reading);
    if (installed) this.#sawInstall = true;
    if (!this.#sawInstall) return; // Never installed here: DDL was never in the WAL to lose.
    const key = problems.join("\n");
    if (problems.length === 0) {
      this.#triggerAlarm = undefined;
      return;
    }
    if (this.#triggerAlarm === key) return;
    this.#triggerAlarm = key;
    const { origin, server } = this.#opts;
    this.#raise(
      "WAL_DDL_TRIGGER_MISSING",
      `Vigil's triggers in database "${origin.db}" on ${server} may no longer record DDL or ` +
        `writes in the WAL: ${problems.join("; ")}; what happened since may be missing from ` +
        `the audit trail (run vigil pg-install again to restore them)`,
      { problems, triggers: [...DDL_TRIGGERS] },
    );
  }

  #raise(command: WalAlarm, error: string | undefined, context: JsonObject): void {
    const ev = alarmEvent(this.#opts.origin, command, error, context, Date.now() * 1000);
    log(error === undefined ? "info" : "error", error ?? `${command} on slot ${this.#opts.slot}`, {
      source: this.#opts.origin.source,
      command,
    });
    this.#opts.raise([ev]);
  }
}
