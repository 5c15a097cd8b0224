/**
 * A mixed workload for the pgoutput decoder, run against a real PostgreSQL, and the helpers to
 * record what the server made of it: the raw pgoutput messages of a slot, the tables as
 * PostgreSQL's own text output at points along the way, and the commit times.
 * The live test (`pgoutput_pg_test.ts`) and the fixture recorder
 * (`tests/testdata/pgoutput/record.ts`) share it, so the fixture is what the live test sees.
 */

import type { JsonObject } from "../../../daemon/event/model.ts";
import type { PgCluster } from "../../support/postgres.ts";

export const SLOT = "s";
export const PUBLICATION = "p";

/** Settings the workload needs beyond the harness's own: commit times to check against. */
export const WORKLOAD_SETTINGS = { track_commit_timestamp: "on" } as const;

/** One row of `pg_logical_slot_peek_binary_changes()`. */
export interface ChangeRow {
  lsn: string;
  xid: number;
  hex: string;
}

/** The tables as text at one point of the workload: object → rows ordered by `id`. */
export interface Snapshot {
  /** `pg_current_wal_lsn()` when taken: every transaction committed before it is in it. */
  lsn: string;
  tables: Record<string, JsonObject[]>;
}

/** What a run of the workload recorded, besides the messages. */
export interface WorkloadRecord {
  serverVersion: string;
  snapshots: Snapshot[];
  /** xid → commit time in µs since the Unix epoch, from `pg_xact_commit_timestamp()`. */
  commitTimes: Record<string, number>;
}

const BIG = (n: number): string =>
  `(SELECT string_agg(md5(i::text), '') FROM generate_series(1, ${n}) i)`;

/** Tables compared with the decoded stream, as `object` names them. */
export const TABLES = [
  "public.kinds",
  "public.full_t",
  '"Sales"."Order Lines"',
  "public.trunc_a",
  "public.trunc_b",
];

/** The workload, in steps; a snapshot of {@link TABLES} is taken after each. */
export const STEPS: readonly string[] = [
  `CREATE TYPE mood AS ENUM ('sad', 'happy');
   CREATE TABLE kinds (id int PRIMARY KEY, i8 int8, n numeric(38,10), ts timestamptz, b bytea,
     j json, jb jsonb, t text, f8 float8, arr int[], u uuid, iv interval, flag boolean, d date,
     m mood, big text);
   ALTER TABLE kinds ALTER big SET STORAGE EXTERNAL;
   CREATE SCHEMA "Sales";
   CREATE TABLE "Sales"."Order Lines" (id int PRIMARY KEY, "__proto__" text, "Mixed Case" text,
     "1" int, "user" text);
   CREATE TABLE full_t (id int PRIMARY KEY, note text, big text);
   ALTER TABLE full_t REPLICA IDENTITY FULL;
   ALTER TABLE full_t ALTER big SET STORAGE EXTERNAL;
   INSERT INTO kinds VALUES
     (1, 9223372036854775807, 1234567890123456789012345678.1234567890,
      '2024-02-29 23:59:59.999999+00', '\\x00ff10'::bytea, '{"b":1,  "a":[1, 2.50]}',
      '{"b":1,  "a":[1, 2.50]}',
      E'line1\\nline2\\t"quoted" ''single'' back\\\\slash \\u2603 \\U0001D11E e\\u0301 <b>&amp;',
      0.1, '{1,NULL,3}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      '1 year 2 mons 3 days 04:05:06.789', true, '2000-01-01', 'happy', NULL),
     (2, -9223372036854775808, -0.0000000001, '1999-12-31 23:59:59.000001-08', '\\x'::bytea,
      'null', '{}', '', 'NaN', '{}', NULL, '-1 day', false, 'infinity', 'sad', NULL),
     (3, 0, 0, '1970-01-01 00:00:00+00', NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL, NULL,
      NULL, NULL, NULL, ${BIG(260)}),
     (4, 1, 1e-10, '0001-01-01 00:00:00+00 BC', '\\x5c78'::bytea, '"\\u0000"', '[]',
      E'\\uFEFFstarts with a BOM', 1e-300, '{{1,2},{3,4}}', NULL, '0', NULL, NULL, NULL, NULL);`,
  `UPDATE kinds SET i8 = i8 - 1 WHERE id = 3;
   UPDATE kinds SET big = big || 'tail' WHERE id = 3;
   UPDATE kinds SET id = 20 WHERE id = 2;
   DELETE FROM kinds WHERE id = 1;
   INSERT INTO full_t VALUES (1, 'a', ${BIG(300)}), (2, 'b', NULL);
   UPDATE full_t SET note = 'a2' WHERE id = 1;
   DELETE FROM full_t WHERE id = 2;`,
  `ALTER TABLE kinds ADD COLUMN extra text;
   INSERT INTO kinds (id, extra) VALUES (5, 'after alter');
   BEGIN;
   INSERT INTO kinds (id, t) VALUES (6, 'before context');
   SELECT pg_logical_emit_message(true, 'vigil.context', '{"user":"ada","reason":"refund"}');
   UPDATE kinds SET t = 'after context' WHERE id = 6;
   COMMIT;
   BEGIN;
   CREATE TABLE ddl_t (id int PRIMARY KEY);
   SELECT pg_logical_emit_message(true, 'vigil.ddl', '{"command_tag":"CREATE TABLE",` +
  `"object_type":"table","schema_name":"public","object_identity":"public.ddl_t",` +
  `"role":"postgres","statement":"CREATE TABLE ddl_t (id int PRIMARY KEY);"}');
   COMMIT;
   SELECT pg_logical_emit_message(false, 'vigil.heartbeat', '{"seq":1}');
   BEGIN;
   SELECT pg_logical_emit_message(true, 'other.app', 'not ours');
   SELECT pg_logical_emit_message(true, 'vigil.note', '\\xff00'::bytea);
   INSERT INTO "Sales"."Order Lines" VALUES (1, 'proto', 'mixed', 1, 'u');
   COMMIT;`,
  `CREATE TABLE trunc_a (id serial PRIMARY KEY);
   CREATE TABLE trunc_b (id int PRIMARY KEY, a int REFERENCES trunc_a);
   INSERT INTO trunc_a DEFAULT VALUES;
   INSERT INTO trunc_b VALUES (1, 1);`,
  `TRUNCATE trunc_a RESTART IDENTITY CASCADE;
   BEGIN; INSERT INTO kinds (id) VALUES (99); ROLLBACK;
   UPDATE kinds SET t = NULL, extra = 'x' WHERE id = 3;`,
];

/** Creates the publication (FOR ALL TABLES) and the pgoutput slot. */
export async function createSlot(pg: PgCluster): Promise<void> {
  await pg.sql(
    `CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES;
     SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput');`,
  );
}

/** Runs {@link STEPS}, snapshotting {@link TABLES} after each, and returns the record. */
export async function runWorkload(pg: PgCluster): Promise<WorkloadRecord> {
  const snapshots: Snapshot[] = [];
  for (const step of STEPS) {
    await pg.sql(step);
    snapshots.push(await snapshot(pg));
  }
  const serverVersion = await pg.sql("SHOW server_version");
  return { serverVersion, snapshots, commitTimes: {} };
}

/** The slot's pending messages, without consuming them. */
export async function peekChanges(pg: PgCluster, protoVersion = 1): Promise<ChangeRow[]> {
  const out = await pg.sql(
    `SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('${SLOT}',
       NULL, NULL, 'proto_version', '${protoVersion}', 'publication_names', '${PUBLICATION}',
       'messages', 'true')`,
  );
  return out === "" ? [] : out.split("\n").map(parseChangeRow);
}

/** Commit times (µs since the Unix epoch) of the transactions in `rows`. */
export async function commitTimes(
  pg: PgCluster,
  rows: readonly ChangeRow[],
): Promise<Record<string, number>> {
  const xids = [...new Set(rows.map((r) => r.xid).filter((x) => x !== 0))];
  if (xids.length === 0) return {};
  const out = await pg.sql(
    `SELECT x, (extract(epoch FROM pg_xact_commit_timestamp(x::text::xid)) * 1000000)::int8
       FROM unnest(ARRAY[${xids.join(",")}]::int8[]) x`,
  );
  return Object.fromEntries(
    out.split("\n").map((line) => {
      const [xid, us] = line.split("|");
      return [xid!, Number(us)];
    }),
  );
}

/** A `lsn|xid|hex` line of psql output, or a tab-separated line of a fixture file. */
export function parseChangeRow(line: string): ChangeRow {
  const [lsn, xid, hex] = line.split(/[|\t]/);
  if (lsn === undefined || xid === undefined || hex === undefined) {
    throw new SyntaxError(`Cannot read change row ${JSON.stringify(line.slice(0, 80))}`);
  }
  return { lsn, xid: Number(xid), hex };
}

/** The bytes of a hex string. */
export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function snapshot(pg: PgCluster): Promise<Snapshot> {
  const lsn = await pg.sql("SELECT pg_current_wal_lsn()");
  const tables: Record<string, JsonObject[]> = {};
  for (const object of TABLES) {
    const exists = await pg.sql(
      `SELECT to_regclass('${object.replaceAll("'", "''")}') IS NOT NULL`,
    );
    if (exists !== "t") continue;
    // Every column as its type's output function writes it — what psql shows and pgoutput
    // sends. Not `col::text`: a few types cast to text their own way (a boolean becomes "true",
    // not "t"). row_to_json escapes the text and JSON.parse undoes that.
    const columns = await pg.sql(
      `SELECT string_agg(format('CASE WHEN %1$I IS NULL THEN NULL ELSE format(''%%s'', %1$I) END AS %1$I',
         attname), ', ' ORDER BY attnum)
         FROM pg_attribute WHERE attrelid = '${object.replaceAll("'", "''")}'::regclass
         AND attnum > 0 AND NOT attisdropped`,
    );
    const json = await pg.sql(
      `SELECT coalesce(json_agg(row_to_json(r) ORDER BY r.id::int), '[]')
         FROM (SELECT ${columns} FROM ${object}) r`,
    );
    tables[object] = JSON.parse(json) as JsonObject[];
  }
  return { lsn, tables };
}
