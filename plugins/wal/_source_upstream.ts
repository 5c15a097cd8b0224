/**
 * Opens the WAL source's side of PostgreSQL: one `replication=database` connection, the
 * publication and the permanent pgoutput slot made if missing, and the stream started. Where it
 * starts is the later of the slot's confirmed position (the server's rule) and the end of the
 * last transaction the store holds whole — so a server that was never told about the last
 * durable batch (a crash between fsync and ack) does not send those transactions again, and
 * one that was told about more (idle keepalives) does not either.
 */

import { SourceError } from "../../daemon/source.ts";
import { formatLsn } from "./_lsn.ts";
import {
  connectReplication,
  type ReplicationClient,
  type ReplicationStream,
} from "./_replication.ts";
import { quoteIdent, quoteLiteral } from "./_replication_command.ts";
import type { WalSettings } from "./_source_config.ts";
import { parseDsn } from "./_wire.ts";
import { PgError } from "./_wire_errors.ts";

/** A started stream and what the source needs to know about where it runs. */
export interface Upstream {
  client: ReplicationClient;
  stream: ReplicationStream;
  /** The database the slot decodes: the `db` of every event. */
  db: string;
  /** `host:port` of the server, for messages. */
  server: string;
  /** Whether this start created the slot (then nothing before now can be collected). */
  createdSlot: boolean;
}

/**
 * Connects, makes the publication and slot if missing, and starts streaming at `resumeLsn` or
 * the slot's position, whichever is later. Throws a stage-`connect` {@link SourceError}.
 */
export async function openUpstream(settings: WalSettings, resumeLsn: bigint): Promise<Upstream> {
  const { host, port } = parseDsn(settings.dsn);
  let server = `${host}:${port}`;
  let client: ReplicationClient | undefined;
  let step = "connect";
  try {
    client = await connectReplication(settings.dsn);
    server = client.connection.server;
    step = "identify the system";
    const db = (await client.identifySystem()).dbName ?? parseDsn(settings.dsn).database;
    step = `ensure publication "${settings.publication}"`;
    await ensurePublication(client, settings.publication);
    step = `ensure slot "${settings.slot}"`;
    const { created } = await client.createSlotIfMissing(settings.slot);
    step = `start replication at ${formatLsn(resumeLsn)}`;
    const stream = await client.start({
      slot: settings.slot,
      publication: settings.publication,
      startLsn: resumeLsn,
      messages: true,
      protoVersion: 1,
      statusIntervalMs: settings.statusIntervalMs,
      closeTimeoutMs: settings.closeTimeoutMs,
    });
    return { client, stream, db, server, createdSlot: created };
  } catch (error) {
    await client?.close().catch(() => {}); // The failure to start is what matters.
    const why = error instanceof Error ? error.message : String(error);
    throw new SourceError(
      "connect",
      `Cannot start WAL collection from slot "${settings.slot}" on ${server} (${step}): ${why}`,
      { cause: error },
    );
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
