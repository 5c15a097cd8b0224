/**
 * Vigil's own logical replication client. It owns what the npm clients get wrong for an audit
 * trail: slots are permanent (a reconnect must find every change not yet stored), the flush
 * position is only ever what the caller declared durable, keepalives are answered with that
 * position, and payloads are handed over as bytes for our own pgoutput decoder — no value
 * conversion on the way.
 *
 * @example
 * ```ts
 * const client = await connectReplication("postgres://vigil@db1/billing");
 * await client.createSlotIfMissing("vigil_billing");
 * const stream = await client.start({ slot: "vigil_billing", publication: "vigil_billing" });
 * for await (const { payload } of stream) {
 *   const commitEnd = decodeAndStore(payload); // fsynced by the store
 *   if (commitEnd !== undefined) stream.ack(commitEnd);
 * }
 * ```
 */
import {
  connect,
  type ConnectOptions,
  parseDsn,
  parseNotice,
  type PgConnection,
  PgError,
  queryMessage,
} from "../../daemon/pgwire/mod.ts";
import {
  checkSlotName,
  createSlotCommand,
  dropSlotCommand,
  slotInfoQuery,
  startReplicationCommand,
} from "./replication_command.ts";
import { parseLsn } from "./lsn.ts";
import { ReplicationStream } from "./replication_stream.ts";

export { ReplicationStream } from "./replication_stream.ts";
export type { XLogData } from "./replication_stream.ts";
export type { AckOptions } from "./replication_acks.ts";

/** The answer to IDENTIFY_SYSTEM. */
export interface SystemIdentity {
  /** The cluster's unique system identifier (a 64-bit number, as text). */
  systemId: string;
  timeline: number;
  /** Current WAL flush position. */
  xlogPos: bigint;
  /** The database of the connection; null on a physical replication connection. */
  dbName: string | null;
}

/** A slot's row in `pg_replication_slots`. */
export interface SlotInfo {
  name: string;
  plugin: string | null;
  slotType: "logical" | "physical";
  database: string | null;
  temporary: boolean;
  active: boolean;
  activePid: number | null;
  restartLsn: bigint | null;
  confirmedFlushLsn: bigint | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (then the slot is useless). */
  walStatus: string | null;
  /** Whether the slot belongs to the database this connection is on. */
  sameDatabase: boolean;
}

/** Options of {@link ReplicationClient.start}. */
export interface StartOptions {
  slot: string;
  /** One publication or several. */
  publication: string | readonly string[];
  /** Resume position, durable in the caller's store; default 0/0 (the slot's own). */
  startLsn?: bigint;
  /** Ask pgoutput for logical decoding messages too; default true. */
  messages?: boolean;
  /** pgoutput protocol version; default 1. */
  protoVersion?: number;
  /** Unsolicited status update interval; default 10 000 ms. */
  statusIntervalMs?: number;
  /** How long `close()` waits for a clean end; default 5 000 ms. */
  closeTimeoutMs?: number;
  /**
   * Do not confirm keepalives on idle by itself; the caller acks them once durable (see
   * `ReplicationStream.idleKeepalive`). Default false.
   */
  holdKeepalives?: boolean;
}

/**
 * Opens a `replication=database` connection from a DSN or options.
 *
 * A SQL_ASCII database checks no bytes, so a row may hold any; converted to the pinned UTF8,
 * such a row makes the walsender fail ("invalid byte sequence") at the same LSN on every
 * attempt, and the slot is stuck for good. Its rows are taken as stored (client_encoding
 * SQL_ASCII) instead: the decoder reads what is UTF-8 and keeps the rest raw, as a change of
 * its table with a parse error.
 */
export async function connectReplication(
  target: string | ConnectOptions,
): Promise<ReplicationClient> {
  const opts = typeof target === "string" ? parseDsn(target) : target;
  const conn = await connect({ ...opts, replication: "database" });
  if (conn.parameters.get("server_encoding") === "SQL_ASCII") {
    try {
      await conn.query("SET client_encoding = 'SQL_ASCII'", "connect");
    } catch (error) {
      conn.abort();
      throw error;
    }
  }
  return new ReplicationClient(conn);
}

/** Replication commands on one walsender connection, then (once) the stream. */
export class ReplicationClient implements AsyncDisposable {
  #conn: PgConnection;
  #stream: ReplicationStream | undefined;

  constructor(conn: PgConnection) {
    this.#conn = conn;
  }

  /** The connection, e.g. for plain SQL (`query`) on the same session. */
  get connection(): PgConnection {
    return this.#conn;
  }

  /** IDENTIFY_SYSTEM: system id, timeline, current WAL position, database. */
  async identifySystem(): Promise<SystemIdentity> {
    const { rows } = await this.#command("IDENTIFY_SYSTEM");
    const [systemId, timeline, xlogPos, dbName] = rows[0] ?? [];
    if (!systemId || !timeline || !xlogPos) {
      throw new SyntaxError(`Malformed IDENTIFY_SYSTEM answer from ${this.#conn.server}`);
    }
    return {
      systemId,
      timeline: Number(timeline),
      xlogPos: parseLsn(xlogPos),
      dbName: dbName ?? null,
    };
  }

  /** The slot's row, or undefined if there is no such slot. */
  async slotInfo(slot: string): Promise<SlotInfo | undefined> {
    const { rows } = await this.#command(slotInfoQuery(slot));
    const row = rows[0];
    if (!row) return undefined;
    const [name, plugin, slotType, database, temporary, active, activePid] = row;
    const [restartLsn, confirmedFlushLsn, walStatus, sameDatabase] = row.slice(7);
    return {
      name: name ?? slot,
      plugin: plugin ?? null,
      slotType: slotType === "physical" ? "physical" : "logical",
      database: database ?? null,
      temporary: temporary === "t",
      active: active === "t",
      activePid: activePid ? Number(activePid) : null,
      restartLsn: restartLsn ? parseLsn(restartLsn) : null,
      confirmedFlushLsn: confirmedFlushLsn ? parseLsn(confirmedFlushLsn) : null,
      walStatus: walStatus ?? null,
      sameDatabase: sameDatabase === "t",
    };
  }

  /**
   * Creates the permanent pgoutput slot unless it exists; an existing one is left as it is
   * (its position is what the store resumes from). Throws `TypeError` when a slot of that name
   * exists but cannot serve: physical, another plugin, another database, or temporary.
   */
  async createSlotIfMissing(slot: string): Promise<{ created: boolean; slot: SlotInfo }> {
    let created = false;
    if (!(await this.slotInfo(slot))) {
      try {
        await this.#command(createSlotCommand(slot));
        created = true;
      } catch (error) {
        // Someone else created it between our look and our create: theirs is as good.
        if (!(error instanceof PgError && error.code === "42710")) throw error;
      }
    }
    const info = await this.slotInfo(slot);
    if (!info) throw new Error(`Slot "${slot}" vanished on ${this.#conn.server} after creation`);
    const problem = info.slotType !== "logical"
      ? "is a physical slot"
      : info.plugin !== "pgoutput"
      ? `uses the output plugin ${info.plugin}, not pgoutput`
      : !info.sameDatabase
      ? `belongs to database ${info.database}`
      : info.temporary
      ? "is temporary"
      : undefined;
    if (problem) {
      throw new TypeError(`Replication slot "${slot}" on ${this.#conn.server} ${problem}`);
    }
    return { created, slot: info };
  }

  /** Drops the slot; false if there was none. `wait` waits for an active slot's release. */
  async dropSlot(slot: string, opts: { wait?: boolean } = {}): Promise<boolean> {
    try {
      await this.#command(dropSlotCommand(slot, opts.wait === true));
      return true;
    } catch (error) {
      if (error instanceof PgError && error.code === "42704") return false;
      throw error;
    }
  }

  /**
   * Issues START_REPLICATION and returns the stream once the server is in CopyBoth mode. The
   * connection then belongs to the stream; `stream.close()` ends both.
   */
  async start(opts: StartOptions): Promise<ReplicationStream> {
    this.#checkIdle();
    const startLsn = opts.startLsn ?? 0n;
    const command = startReplicationCommand({
      slot: checkSlotName(opts.slot),
      startLsn,
      publications: typeof opts.publication === "string" ? [opts.publication] : opts.publication,
      protoVersion: opts.protoVersion ?? 1,
      messages: opts.messages ?? true,
    });
    // The server starts no earlier than the slot's confirmed position, whatever we ask; our
    // first status update must not report less, or the slot's position would move back.
    const confirmed = (await this.slotInfo(opts.slot))?.confirmedFlushLsn ?? 0n;
    const statusIntervalMs = opts.statusIntervalMs ?? 10_000;
    if (!(statusIntervalMs > 0)) throw new TypeError(`Bad statusIntervalMs ${statusIntervalMs}`);
    await this.#conn.send(queryMessage(command), "replicate");
    let failure: PgError | undefined;
    for (;;) {
      const { type, payload } = await this.#conn.receive("replicate");
      if (type === 0x57) break; // 'W' CopyBothResponse
      if (type === 0x45) {
        const what = `Cannot start replication from slot "${opts.slot}" on ${this.#conn.server}`;
        failure = new PgError("replicate", what, parseNotice(payload), {
          server: this.#conn.server,
          lsn: startLsn,
        });
      } else if (type === 0x5a && failure) {
        throw failure;
      } else {
        this.#conn.handleAsync(type, payload, "replicate");
      }
    }
    this.#stream = new ReplicationStream(this.#conn, {
      slot: opts.slot,
      resumeLsn: startLsn,
      startLsn: startLsn > confirmed ? startLsn : confirmed,
      statusIntervalMs,
      closeTimeoutMs: opts.closeTimeoutMs ?? 5_000,
      holdKeepalives: opts.holdKeepalives ?? false,
    });
    return this.#stream;
  }

  /** Closes the stream if one runs, then the connection. */
  async close(): Promise<void> {
    await this.#stream?.close();
    await this.#conn.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #command(text: string): ReturnType<PgConnection["query"]> {
    this.#checkIdle();
    return this.#conn.query(text);
  }

  #checkIdle(): void {
    if (this.#stream) {
      throw new Error(`The connection to ${this.#conn.server} is streaming; use a new client`);
    }
  }
}
