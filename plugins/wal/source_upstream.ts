/**
 * Opens the WAL source's side of PostgreSQL in steps, so that the source can look before it
 * streams: one `replication=database` connection, IDENTIFY_SYSTEM, the publication made if
 * missing and the slot as found ({@link connectUpstream}); then the permanent pgoutput slot made
 * if missing, or made anew when it can no longer serve ({@link Upstream.ensureSlot}); then the
 * stream started ({@link Upstream.start}). Where it starts is the later of the slot's confirmed
 * position (the server's rule) and the end of the last transaction the store holds whole — so
 * a server that was never told about the last durable batch (a crash between fsync and ack)
 * does not send those transactions again.
 */

import { SourceError } from "../../daemon/source.ts";
import { formatLsn } from "./lsn.ts";
import {
  connectReplication,
  type ReplicationClient,
  type ReplicationStream,
  type SlotInfo,
} from "./replication.ts";
import { quoteIdent, quoteLiteral } from "./replication_command.ts";
import type { WalSettings } from "./source_config.ts";
import { parseDsn, PgError } from "../../daemon/pgwire/mod.ts";

/** A connected upstream, before and after its stream starts. */
export interface Upstream {
  client: ReplicationClient;
  /** The database the slot decodes: the `db` of every event. */
  db: string;
  /** `host:port` of the server, for messages. */
  server: string;
  /** IDENTIFY_SYSTEM: the cluster's system identifier and its WAL end when connected. */
  systemId: string;
  walEnd: bigint;
  /** The slot as found on connecting; undefined when there was none. */
  found: SlotInfo | undefined;
  /** Makes the slot if missing (or, with `recreate`, drops and makes it); its row then. */
  ensureSlot(recreate: boolean): Promise<SlotInfo>;
  /** Starts streaming at `resumeLsn` or the slot's position, whichever is later. */
  start(resumeLsn: bigint): Promise<ReplicationStream>;
  close(): Promise<void>;
}

/**
 * Connects, identifies the system, makes the publication if missing and looks up the slot.
 * Throws a stage-`connect` {@link SourceError}; every later step of the upstream does too.
 */
export async function connectUpstream(settings: WalSettings): Promise<Upstream> {
  const { host, port } = parseDsn(settings.dsn);
  let server = `${host}:${port}`;
  let client: ReplicationClient | undefined;
  const fail = async (step: string, error: unknown): Promise<never> => {
    await client?.close().catch(() => {}); // The failure to start is what matters.
    const why = error instanceof Error ? error.message : String(error);
    throw new SourceError(
      "connect",
      `Cannot start WAL collection from slot "${settings.slot}" on ${server} (${step}): ${why}`,
      { cause: error },
    );
  };
  let step = "connect";
  try {
    client = await connectReplication(settings.dsn);
    server = client.connection.server;
    step = "identify the system";
    const identity = await client.identifySystem();
    step = `ensure publication "${settings.publication}"`;
    await ensurePublication(client, settings.publication);
    step = `look up slot "${settings.slot}"`;
    const found = await client.slotInfo(settings.slot);
    const c = client;
    return {
      client: c,
      db: identity.dbName ?? parseDsn(settings.dsn).database,
      server,
      systemId: identity.systemId,
      walEnd: identity.xlogPos,
      found,
      ensureSlot: async (recreate) => {
        try {
          if (recreate) await c.dropSlot(settings.slot);
          return (await c.createSlotIfMissing(settings.slot)).slot;
        } catch (error) {
          return await fail(`ensure slot "${settings.slot}"`, error);
        }
      },
      start: async (resumeLsn) => {
        try {
          return await c.start({
            slot: settings.slot,
            publication: settings.publication,
            startLsn: resumeLsn,
            messages: true,
            protoVersion: 1,
            statusIntervalMs: settings.statusIntervalMs,
            closeTimeoutMs: settings.closeTimeoutMs,
            // Confirmed only once the store holds them: see `gaps.ts`.
            holdKeepalives: true,
          });
        } catch (error) {
          return await fail(`start replication at ${formatLsn(resumeLsn)}`, error);
        }
      },
      close: () => c.close(),
    };
  } catch (error) {
    return await fail(step, error);
  }
}

/**
 * Creates the publication `FOR ALL TABLES` unless one of that name exists; an existing one is
 * left as the operator made it. Runs as SQL on the walsender connection, which accepts it.
 */
async function ensurePublication(client: ReplicationClient, name: string): Promise<void> {
  const conn = client.connection;
  const found = await conn.query(
    `SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${quoteLiteral(name)}`,
  );
  if (found.rows.length > 0) return;
  try {
    await conn.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR ALL TABLES`);
  } catch (error) {
    // Another start created it between our look and our create: theirs is as good.
    if (!(error instanceof PgError && error.code === "42710")) throw error;
  }
}
