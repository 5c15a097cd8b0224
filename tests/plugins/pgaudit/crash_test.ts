/**
 * Exactly-once under stress, in each of the three log formats: a real PostgreSQL 15 with
 * pgAudit writes stderr, csvlog and jsonlog while a workload
 * issues statements, each with a unique marker; the log rotates by size
 * (`log_rotation_size`), by `pg_rotate_logfile()` and by copytruncate; and the collector —
 * `tests/support/pgaudit_runner.ts` in a child process, the store and the source as the daemon
 * runs them — is killed with SIGKILL at random moments. Afterwards every statement the workload
 * issued is stored exactly once. 3 rounds by default, `VIGIL_SOAK_ROUNDS` (at least 10) for more.
 */

import postgres from "postgres";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { backgroundLoad } from "../../support/background_load.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { pgauditRunnerArgv } from "../../support/pgaudit_runner.ts";
import { type PgCluster, startPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

const SOAK = Deno.env.get("VIGIL_SOAK_ROUNDS");
const ROUNDS = SOAK === undefined ? 3 : Math.max(10, Number(SOAK) || 10);
const MARK = /^SELECT 'vigil-mark-(\d+)' AS m$/;

interface Runner {
  child: Deno.ChildProcess;
  ready: Promise<boolean>;
  stderr: Promise<string>;
}

type Format = "csvlog" | "jsonlog" | "stderr";
const FORMATS: readonly Format[] = ["csvlog", "jsonlog", "stderr"];
const EXTENSION: Readonly<Record<Format, string>> = {
  csvlog: "csv",
  jsonlog: "json",
  stderr: "log",
};

function spawnRunner(pg: PgCluster, data: string, format: Format): Runner {
  const child = new Deno.Command(Deno.execPath(), {
    args: pgauditRunnerArgv({
      data,
      // Rotated and copied-aside files too: `<name>.csv.<ms>` from copyTruncate().
      path: `${pg.logDir}/*.${EXTENSION[format]}*`,
      format,
      ...(format === "stderr" ? { logLinePrefix: pg.logLinePrefix } : {}),
      currentLogfiles: `${pg.dataDir}/current_logfiles`,
    }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes("ready\n")) return true;
    }
    return false;
  })().catch(() => false);
  const stderr = new Response(child.stderr).text().catch(() => "");
  return { child, ready, stderr };
}

/** Waits for the runner's "ready"; fails with its stderr when it exited instead. */
async function started(runner: Runner): Promise<void> {
  if (await runner.ready) return;
  const status = await runner.child.status;
  throw new Error(`pgaudit_runner did not start (exit ${status.code}): ${await runner.stderr}`);
}

async function kill(runner: Runner, signal: Deno.Signal): Promise<Deno.CommandStatus> {
  try {
    runner.child.kill(signal);
  } catch {
    const status = await runner.child.status;
    throw new Error(`pgaudit_runner exited by itself (${status.code}): ${await runner.stderr}`);
  }
  return await runner.child.status;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Statements and rotations until `stop()`, which `pause()` holds still. */
function workload(pg: PgCluster): {
  issued: () => number;
  pause: () => Promise<() => void>;
  stop: () => Promise<void>;
} {
  const connect = () =>
    postgres({
      host: pg.host,
      port: pg.port,
      database: "postgres",
      username: pg.superuser,
      password: pg.password,
      max: 1,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "vigil-crash" },
    });
  const sql = connect();
  const admin = connect();
  let issued = 0;
  let stopped = false;
  let gate: Promise<void> | undefined;
  let inFlight = 0;
  const statements = (async () => {
    while (!stopped) {
      while (gate !== undefined) await gate;
      inFlight++;
      await sql.unsafe(`SELECT 'vigil-mark-${issued}' AS m`).simple();
      issued++;
      inFlight--;
    }
  })();
  const rotations = (async () => {
    while (!stopped) {
      await sleep(300 + Math.random() * 600);
      while (gate !== undefined) await gate;
      inFlight++;
      await admin.unsafe("SELECT pg_rotate_logfile()").simple();
      inFlight--;
    }
  })();
  return {
    issued: () => issued,
    pause: async () => {
      let open = (): void => {};
      gate = new Promise((resolve) => (open = resolve));
      while (inFlight > 0) await sleep(5);
      return () => {
        gate = undefined;
        open();
      };
    },
    stop: async () => {
      stopped = true;
      await Promise.all([statements, rotations]);
      await Promise.all([sql.end(), admin.end()]);
    },
  };
}

/** Waits until `path` stops growing: the logging collector writes just after a statement. */
async function settled(path: string): Promise<void> {
  let last = -1;
  for (;;) {
    const size = (await Deno.stat(path)).size;
    if (size === last) return;
    last = size;
    await sleep(200);
  }
}

/** copytruncate as logrotate does it: copy the current log aside, truncate the original. */
async function copyTruncate(pg: PgCluster, format: Format): Promise<void> {
  const current = (await pg.logFiles())[format];
  await settled(current);
  await Deno.copyFile(current, `${current}.${Date.now()}`);
  await Deno.truncate(current, 0);
}

for (const format of FORMATS) {
  Deno.test(`pgauditSource() stores every ${format} statement exactly once across ${ROUNDS} kill -9s, rotations and copytruncates`, async () => {
    await using pg = await startPostgres({
      settings: { log_rotation_size: "64kB", log_checkpoints: false },
    });
    // Under `deno task soak`: more clusters under pgbench and fdatasync writers beside it.
    await using load = await backgroundLoad({ seconds: ROUNDS * 3 + 60 });
    await withTempDir(async (data) => {
      const work = workload(pg);
      let copies = 0;
      let runner: Runner | undefined;
      try {
        for (let round = 0; round < ROUNDS; round++) {
          runner = spawnRunner(pg, data, format);
          await started(runner);
          await sleep(300 + Math.random() * 1200);
          if (round % 3 === 1) {
            const resume = await work.pause();
            await copyTruncate(pg, format);
            copies++;
            resume();
            await sleep(Math.random() * 300);
          }
          await kill(runner, "SIGKILL");
          runner = undefined;
          await sleep(Math.random() * 300); // the log moves on while nothing reads it
        }
      } finally {
        await work.stop();
        if (runner !== undefined) await kill(runner, "SIGKILL");
      }
      const issued = work.issued();
      assert(issued > 0, "the workload issued statements");

      // The last run reads everything that is left, then stops cleanly.
      runner = spawnRunner(pg, data, format);
      await started(runner);
      const counts = new Map<number, number>();
      const events: AuditEvent[] = [];
      let next = 0;
      try {
        await assertEventually(async () => {
          for await (const r of readLog(data, { fromSeq: next })) {
            next = r.seq + 1;
            events.push(r.event);
            const m = MARK.exec(r.event.statement ?? "");
            if (m !== null && r.event.kind === "session") {
              const id = Number(m[1]);
              counts.set(id, (counts.get(id) ?? 0) + 1);
            }
          }
          return counts.size >= issued;
        }, { timeoutMs: 120_000, intervalMs: 200, message: `all ${issued} statements stored` });
      } finally {
        const last = await kill(runner, "SIGTERM");
        assertEquals(last.code, 0, `pgaudit_runner did not stop cleanly: ${await runner.stderr}`);
      }

      const twice = [...counts].filter(([, n]) => n !== 1).map(([id]) => id);
      // Where the first copies came from (fingerprint:offset), to tell which file was read again.
      const where = (id: number): string =>
        events.filter((e) => MARK.exec(e.statement ?? "")?.[1] === String(id))
          .map((e) => e.source_pos).join(", ");
      assertEquals(
        twice,
        [],
        `no statement stored twice (first ${twice[0]} at ${where(twice[0]!)}; last ` +
          `${twice.at(-1)} at ${where(twice.at(-1)!)})`,
      );
      const missing = Array.from({ length: issued }, (_, i) => i).filter((i) => !counts.has(i));
      assertEquals(missing, [], "no statement lost");
      const positions = events.map((e) => e.source_pos);
      assertEquals(new Set(positions).size, positions.length, "no record stored twice");
      const unreadable = events.filter((e) => e.parse_error !== undefined);
      assertEquals(unreadable.map((e) => e.parse_error), [], "no record cut at a resume");
      const files = new Set(positions.map((p) => String(p).split(":")[0])).size;
      console.log(
        `pgaudit ${format} crash soak: ${ROUNDS} kill -9 rounds, ${copies} copytruncates, ${files} log ` +
          `files, ${issued} statements stored exactly once among ${events.length} events, 0 lost, ` +
          `0 duplicated; ${load.describe()}`,
      );
    });
  });
}
