/**
 * The pgAudit source end to end into a real store: unparseable lines are stored as raw events
 * with `parse_error` and counted, invalid UTF-8 keeps its bytes, a multi-megabyte statement
 * comes back whole, secrets never reach the store, and the cut-off last record of a file that
 * was rotated away is stored (as a parse error) once the grace period has passed.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { runSource } from "../../../daemon/pipeline.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { pgauditSource, type PgauditSourceConfig } from "../../../plugins/pgaudit/mod.ts";
import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { auditMessage, csvRow } from "./_build.ts";

async function stored(data: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(data)) out.push(r.event);
  return out;
}

/** Runs the source over `logs` until `done(events)`, then stops it and closes the store. */
async function collect(
  data: string,
  config: PgauditSourceConfig,
  done: (events: AuditEvent[]) => boolean,
): Promise<{
  events: AuditEvent[];
  stats: ReturnType<typeof pgauditSource>["stats"];
  gauges: Map<string, number>;
}> {
  const store = await Store.open(data, { checkpointIntervalMs: 0 });
  const source = pgauditSource(config);
  const ac = new AbortController();
  const gauges = new Map<string, number>();
  const running = runSource(store, source, {
    name: "log",
    signal: ac.signal,
    gauge: (name, value) => gauges.set(name, value),
  });
  let failed: unknown;
  running.catch((e) => (failed = e));
  try {
    await assertEventually(async () => {
      if (failed !== undefined) throw failed;
      return done(await stored(data));
    }, { timeoutMs: 30_000, message: "the expected events stored" });
  } finally {
    ac.abort();
    await running.catch(() => {});
    await store.close();
  }
  return { events: await stored(data), stats: source.stats, gauges };
}

const fast = { format: "csvlog" as const, poll_interval_ms: 20, current_logfiles: false as const };

Deno.test("pgaudit source stores unparseable lines and invalid UTF-8 raw, with parse_error, and counts them", async () => {
  await withTempDir(async (dir) => {
    const logs = `${dir}/log`;
    await Deno.mkdir(logs);
    const good = (i: number): string =>
      csvRow({ line: i, message: auditMessage(`SELECT 'ok-${i}'`) });
    const enc = new TextEncoder();
    const parts = [
      enc.encode(good(1)),
      enc.encode('garbage that is no csvlog row, "with an open quote\n'),
      enc.encode(good(2)),
      enc.encode(
        csvRow({ line: 3, message: auditMessage("SELECT 'bad-utf8-\uFFFF'") })
          .replace("\uFFFF", "\u0001"),
      ),
      enc.encode(good(4)),
    ];
    // Invalid UTF-8 inside the third record's statement: 0xC3 0x28.
    const third = parts[3]!;
    const at = third.indexOf(0x01);
    const withBad = new Uint8Array([
      ...third.subarray(0, at),
      0xc3,
      0x28,
      ...third.subarray(at + 1),
    ]);
    parts[3] = withBad;
    await Deno.writeFile(`${logs}/pg.csv`, new Uint8Array(parts.flatMap((p) => [...p])));
    const { events, stats, gauges } = await collect(`${dir}/data`, {
      ...fast,
      path: `${logs}/*.csv`,
    }, (
      evs,
    ) => evs.length >= 5);
    assertEquals(events.length, 5);
    const raw = events.filter((e) => e.parse_error !== undefined);
    assertEquals(raw.length, 2);
    assertEquals(raw[0]!.raw, 'garbage that is no csvlog row, "with an open quote');
    assert(raw[0]!.parse_error!.includes("pg.csv"), "the problem names the file");
    assertEquals(raw[1]!.statement, "SELECT 'bad-utf8-\uFFFD('");
    assert(raw[1]!.raw!.startsWith("\\x") && raw[1]!.raw!.includes("c328"), "bytes kept exactly");
    assertEquals(stats.parse_errors, 2);
    assertEquals(gauges.get("parse_errors"), 2, "reported to the supervisor");
    assertEquals(gauges.get("lag_bytes"), 0);
    assertEquals(
      events.filter((e) => e.parse_error === undefined).map((e) => e.statement),
      ["SELECT 'ok-1'", "SELECT 'ok-2'", "SELECT 'ok-4'"],
    );
  });
});

Deno.test("pgaudit source stores a multi-megabyte statement whole", async () => {
  await withTempDir(async (dir) => {
    const logs = `${dir}/log`;
    await Deno.mkdir(logs);
    const long = `SELECT '${'ünï,"\n😀 '.repeat(400_000)}' AS big`; // ~4.4 MB of UTF-8
    await Deno.writeTextFile(
      `${logs}/pg.csv`,
      csvRow({ line: 1, message: auditMessage(long) }) +
        csvRow({ line: 2, message: auditMessage("SELECT 'after'") }),
    );
    const { events } = await collect(
      `${dir}/data`,
      { ...fast, path: `${logs}/*.csv` },
      (evs) => evs.length >= 2,
    );
    assertEquals(events.map((e) => e.statement?.length), [long.length, "SELECT 'after'".length]);
    assert(events[0]!.statement === long, "byte for byte");
  });
});

Deno.test("pgaudit source redacts secrets before they are stored", async () => {
  await withTempDir(async (dir) => {
    const logs = `${dir}/log`;
    await Deno.mkdir(logs);
    await Deno.writeTextFile(
      `${logs}/pg.csv`,
      csvRow({
        line: 1,
        severity: "ERROR",
        sqlstate: "42710",
        message: 'role "a" already exists',
        statement: "CREATE ROLE a LOGIN PASSWORD 'hunter2'",
      }) +
        // A bad line is held until the next record shows where it ends: one follows.
        "ALTER ROLE b PASSWORD 'hunter4' -- not a csvlog row\n" +
        csvRow({
          line: 2,
          message: auditMessage("SELECT dblink_connect($1)", ["host=h password=hunter3"]),
        }),
    );
    const { events, gauges } = await collect(
      `${dir}/data`,
      { ...fast, path: `${logs}/*.csv` },
      (evs) => evs.length >= 3,
    );
    const text = JSON.stringify(events);
    for (const secret of ["hunter2", "hunter3", "hunter4"]) {
      assert(!text.includes(secret), `${secret} is not stored`);
    }
    assertEquals(events.map((e) => e.redacted), [true, true, true]);
    assertEquals(events[0]!.statement, "CREATE ROLE a LOGIN PASSWORD <REDACTED>");
    assertEquals(gauges.get("redacted_events"), 3, "counted by the pipeline");
  });
});

Deno.test("pgaudit source stores the cut-off end of a rotated-away file once the grace period has passed", async () => {
  await withTempDir(async (dir) => {
    const logs = `${dir}/log`;
    await Deno.mkdir(logs);
    const row = csvRow({ line: 1, message: auditMessage("SELECT 'cut off'") });
    await Deno.writeTextFile(`${logs}/pg-1.csv`, row.slice(0, -15));
    await Deno.utime(`${logs}/pg-1.csv`, 1_700_000_000, 1_700_000_000);
    // A newer file: without current_logfiles, that is what says pg-1.csv was rotated away.
    await Deno.writeTextFile(
      `${logs}/pg-2.csv`,
      csvRow({ line: 1, message: auditMessage("SELECT 'next'") }),
    );
    const { events, stats } = await collect(
      `${dir}/data`,
      { ...fast, path: `${logs}/*.csv`, rotation_grace_ms: 300 },
      (evs) => evs.length >= 2,
    );
    assertEquals(events.length, 2);
    const cut = events.find((e) => e.parse_error !== undefined)!;
    assertEquals(cut.raw, row.slice(0, -15));
    assert(cut.parse_error!.includes("ends inside"), cut.parse_error);
    assertEquals(events.find((e) => e.parse_error === undefined)?.statement, "SELECT 'next'");
    assertEquals(stats.parse_errors, 1);
  });
});
