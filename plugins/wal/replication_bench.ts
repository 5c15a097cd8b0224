/**
 * Raw replication intake: how fast {@link ReplicationStream} takes XLogData off the wire (no
 * decoding, no store), against `pg_recvlogical` with pgoutput writing to /dev/null, on the
 * same transaction in the same run. Each side reads its own slot, created before the
 * transaction, from the slot's start to the transaction's commit, so both make the server
 * decode the same WAL. Rounds alternate between the two, and the median counts.
 *
 * Run by hand against a server with `wal_level=logical` (it creates and drops its own table,
 * publication and slots):
 * `deno run -A plugins/wal/replication_bench.ts --dsn postgres://… [--rows 200000] [--rounds 3]`
 */
import process from "node:process";
import { print } from "../../daemon/log.ts";
import { connect } from "../../daemon/pgwire/mod.ts";
import { connectReplication } from "./replication.ts";
import { formatLsn } from "./lsn.ts";

/** One side's measurement. */
export interface IntakeSample {
  messages: number;
  bytes: number;
  seconds: number;
  /** CPU time of this process meanwhile: what the client itself costs. */
  cpuSeconds: number;
}

/** Options of {@link benchIntake}. */
export interface IntakeBenchOptions {
  dsn: string;
  /** Single-row INSERT changes in the one transaction; default 200 000. */
  rows?: number;
  /** Rounds of each side; default 3. */
  rounds?: number;
  /** Path of pg_recvlogical; default PostgreSQL 15's. */
  recvlogical?: string;
}

/** A result line as `vigil bench` prints them. */
export interface IntakeBenchResult {
  bench: string;
  value: number;
  unit: string;
  reference?: { name: string; value: number };
  ratio?: number;
}

const TABLE = "vigil_bench_intake";
const PUBLICATION = "vigil_bench_intake";

/** Streams `slot` from its start until the Commit at or after `endLsn` (or the first Commit). */
export async function measureIntake(
  dsn: string,
  opts: { slot: string; endLsn?: bigint },
): Promise<IntakeSample & { commitEnd: bigint }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const client = await connectReplication(dsn);
  const stream = await client.start({ slot: opts.slot, publication: PUBLICATION });
  let messages = 0;
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await stream.next();
      if (done) throw new Error(`Stream of slot "${opts.slot}" ended early`);
      messages++;
      bytes += value.payload.length;
      if (value.payload[0] === 0x43 && value.walStart >= (opts.endLsn ?? 0n)) {
        const seconds = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        const cpuSeconds = (used.user + used.system) / 1e6;
        return { messages, bytes, seconds, cpuSeconds, commitEnd: value.walStart };
      }
    }
  } finally {
    await stream.close();
  }
}

/** Runs pg_recvlogical on `slot` until `endLsn`, writing to /dev/null. */
export async function measureRecvlogical(
  dsn: string,
  opts: { slot: string; endLsn: bigint; binary: string },
): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(opts.binary, {
    args: [
      ...["-d", dsn, "--slot", opts.slot, "--start", "--no-loop", "-f", "/dev/null"],
      ...["-o", "proto_version=1", "-o", `publication_names=${PUBLICATION}`],
      ...["-E", formatLsn(opts.endLsn)],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`pg_recvlogical failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return (performance.now() - started) / 1000;
}

/** Sets up, runs the alternating rounds, cleans up; returns result lines. */
export async function benchIntake(opts: IntakeBenchOptions): Promise<IntakeBenchResult[]> {
  const rows = opts.rows ?? 200_000;
  const rounds = opts.rounds ?? 3;
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(rounds) && rounds > 0)) {
    throw new TypeError(`Bad bench size: ${rows} rows, ${rounds} rounds`);
  }
  const binary = opts.recvlogical ?? "/usr/lib/postgresql/15/bin/pg_recvlogical";
  const sql = await connect(opts.dsn);
  const admin = await connectReplication(opts.dsn);
  const slots = Array.from(
    { length: rounds },
    (_, i) => [`vigil_bench_ours_${i}`, `vigil_bench_ref_${i}`],
  );
  try {
    await sql.query(
      `DROP PUBLICATION IF EXISTS ${PUBLICATION}; DROP TABLE IF EXISTS ${TABLE}; ` +
        `CREATE TABLE ${TABLE} (id int, v text); CREATE PUBLICATION ${PUBLICATION} FOR TABLE ${TABLE}`,
    );
    for (const slot of slots.flat()) {
      await admin.dropSlot(slot);
      await admin.createSlotIfMissing(slot);
    }
    await sql.query(
      `INSERT INTO ${TABLE} SELECT g, 'row ' || g FROM generate_series(1, ${rows}) g`,
    );
    const ours: IntakeSample[] = [];
    const reference: number[] = [];
    let endLsn = 0n;
    for (const [mine, theirs] of slots) {
      const sample = await measureIntake(opts.dsn, { slot: mine!, endLsn });
      endLsn = sample.commitEnd;
      ours.push(sample);
      reference.push(await measureRecvlogical(opts.dsn, { slot: theirs!, endLsn, binary }));
    }
    const mid = median(ours.map((s) => s.seconds));
    const sample = ours[0]!;
    const refSeconds = median(reference);
    const perSecond = sample.messages / mid;
    const refPerSecond = sample.messages / refSeconds;
    return [
      {
        bench: "wal_intake_messages",
        value: Math.round(perSecond),
        unit: "XLogData messages/s",
        reference: { name: "pg_recvlogical", value: Math.round(refPerSecond) },
        ratio: round(perSecond / refPerSecond),
      },
      {
        bench: "wal_intake_bytes",
        value: round(sample.bytes / mid / 1e6),
        unit: "MB/s of pgoutput payload",
        reference: { name: "pg_recvlogical", value: round(sample.bytes / refSeconds / 1e6) },
        ratio: round(refSeconds / mid),
      },
      {
        bench: "wal_intake_client_cpu",
        value: round(median(ours.map((s) => s.cpuSeconds)) / sample.messages * 1e6),
        unit: "µs of client CPU per XLogData message",
      },
    ];
  } finally {
    for (const slot of slots.flat()) await admin.dropSlot(slot, { wait: true }).catch(() => false);
    await sql.query(`DROP PUBLICATION IF EXISTS ${PUBLICATION}; DROP TABLE IF EXISTS ${TABLE}`)
      .catch(() => {});
    await admin.close();
    await sql.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (import.meta.main) {
  const flag = (name: string): string | undefined => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const dsn = flag("dsn");
  if (!dsn) throw new TypeError("Usage: replication_bench.ts --dsn DSN [--rows N] [--rounds N]");
  const results = await benchIntake({
    dsn,
    rows: Number(flag("rows") ?? 200_000),
    rounds: Number(flag("rounds") ?? 3),
  });
  for (const result of results) print(JSON.stringify(result));
}
