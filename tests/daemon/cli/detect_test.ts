import { AlertStore } from "../../../daemon/detect/alert_store.ts";
import { attachEngine } from "../../../daemon/detect/batch.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import { Store } from "../../../daemon/store/store.ts";
import { formatRfc3339Micros } from "../../../daemon/event/time.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { generateScenario, SCENARIO_START, SENSITIVE } from "../../support/scenario.ts";
import { withTempDir } from "../../support/store.ts";
import { GAP_COMMANDS } from "../../../plugins/mod.ts";

const DAY = 86_400_000_000;

async function writeConfig(dir: string): Promise<string> {
  const path = `${dir}/vigil.toml`;
  await Deno.writeTextFile(
    path,
    `[detect]\nsensitive_objects = ${JSON.stringify(SENSITIVE)}\nseed = 3\n`,
  );
  return path;
}

type Listed = Record<string, unknown> & { id: number; key: string; rule: string };

function parseLines(text: string): Listed[] {
  return text.trim() === "" ? [] : text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("vigil detect over the stored log finds what the live engine found as events landed", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const s = generateScenario({ seed: 5, days: 14 });
    // The live path: an engine on store.onDurable while batches are appended.
    const store = await Store.open(data, { checkpointIntervalMs: 0 });
    const live = new DetectEngine(
      { ...defaultDetectConfig(), sensitive_objects: SENSITIVE, seed: 3 },
      { alerts: AlertStore.memory(), gapCommands: GAP_COMMANDS },
    );
    await attachEngine(live, store);
    for (let i = 0; i < s.events.length; i += 777) {
      await store.append({ source: "shop-log", events: s.events.slice(i, i + 777) });
    }
    await store.close();
    live.flush();
    const expected = live.list();
    live.alerts.close();
    assert(expected.length >= 8, `only ${expected.length} live alerts`);

    const config = await writeConfig(dir);
    const run = await runVigil(["detect", "--data", data, "--config", config]);
    assertEquals(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assertEquals(summary.events, s.events.length);
    assertEquals(summary.alerts, expected.length);
    const listed = await runVigil(["alerts", "--data", data]);
    assertEquals(listed.code, 0, listed.stderr);
    const got = parseLines(listed.stdout);
    assertEquals(
      got.map((a) => [a.id, a.key, a.rule, a.severity, a.score, a.reason, a.seqs]),
      expected.map((a) => [a.id, a.key, a.rule, a.severity, a.score, a.reason, a.seqs]),
    );
    assertEquals(got[0]!.ts_from, formatRfc3339Micros(expected[0]!.ts_from));

    // A range keeps the alerts meeting it, with the ids the whole run gave them.
    const from = formatRfc3339Micros(SCENARIO_START + 9 * DAY);
    const to = formatRfc3339Micros(SCENARIO_START + 10 * DAY);
    const ranged = await runVigil([
      "detect",
      "--data",
      data,
      "--config",
      config,
      "--from",
      from,
      "--to",
      to,
    ]);
    assertEquals(ranged.code, 0, ranged.stderr);
    const inRange = parseLines((await runVigil(["alerts", "--data", data])).stdout);
    const want = expected.filter((a) =>
      a.ts_to >= SCENARIO_START + 9 * DAY && a.ts_from < SCENARIO_START + 10 * DAY
    );
    assert(want.length > 0, "no alert on day 9");
    assertEquals(inRange.map((a) => a.key), want.map((a) => a.key));
    assertEquals(inRange.map((a) => a.id), want.map((a) => a.id));
  });
});

Deno.test("vigil alerts ack records the ack in the chain, and a rebuild keeps it", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const t = SCENARIO_START;
    const store = await Store.open(data, { checkpointIntervalMs: 0 });
    await store.append({
      source: "wal",
      events: [
        // Attacker-influenced text reaches the reason: escapes must not reach the terminal.
        {
          ts: t,
          source: "wal",
          kind: "system",
          command: "WAL_GAP",
          error: "slot \u001b[2J gone\u202e",
        },
        { ts: t + 7200e6, source: "wal", kind: "system", command: "WAL_DDL_TRIGGER_MISSING" },
      ],
    });
    await store.close();
    assertEquals((await runVigil(["detect", "--data", data])).code, 0);
    const table = await runVigil(["alerts", "--data", data, "--format", "table"]);
    assertEquals(table.code, 0, table.stderr);
    assert(!table.stdout.includes("\u001b") && !table.stdout.includes("\u202e"), table.stdout);
    assert(table.stdout.includes("\\u001b[2J") && table.stdout.includes("\\u202e"), table.stdout);
    assertMatch(table.stdout, /^id +ts_from +ts_to +rule +severity +role/);
    assert(table.stdout.includes("(2 alerts)"));

    const ack = await runVigil([
      "alerts",
      "ack",
      "--data",
      data,
      "--id",
      "2",
      "--by",
      "ada",
      "--note",
      "trigger re-created",
    ]);
    assertEquals(ack.code, 0, ack.stderr);
    assertEquals(JSON.parse(ack.stdout).ack.by, "ada");
    const events = parseLines((await runVigil(["query", "--data", data, "--kind", "app"])).stdout);
    assertEquals(events.length, 1);
    assertEquals(events[0]!.command, "VIGIL_ALERT_ACK");
    assertEquals(events[0]!.app_user, "ada");
    assertEquals((events[0]!.context as Record<string, unknown>).note, "trigger re-created");
    // alerts.db is derived: delete it, rebuild from the log, and the ack is still there.
    await Deno.remove(`${data}/alerts.db`);
    for (const f of ["alerts.db-wal", "alerts.db-shm"]) {
      await Deno.remove(`${data}/${f}`).catch(() => {});
    }
    assertEquals((await runVigil(["detect", "--data", data])).code, 0);
    const after = parseLines((await runVigil(["alerts", "--data", data])).stdout);
    assertEquals(after.length, 2);
    assertEquals(after[0]!.ack, undefined);
    assertEquals((after[1]!.ack as Record<string, unknown>).note, "trigger re-created");
    assertEquals((after[1]!.ack as Record<string, unknown>).seq, 2);
    // The ack event itself is never an input to detection.
    assertEquals(after.map((a) => a.rule), ["audit_tampering", "audit_tampering"]);
  });
});

Deno.test("vigil alerts ack while another writer holds the store points to the web UI", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const store = await Store.open(data, { checkpointIntervalMs: 0 });
    await store.append({
      source: "wal",
      events: [{ ts: SCENARIO_START, source: "wal", kind: "system", command: "WAL_GAP" }],
    });
    await store.close();
    assertEquals((await runVigil(["detect", "--data", data])).code, 0);
    // A running serve holds the writer lock; this process stands in for it.
    const serving = await Store.open(data, { checkpointIntervalMs: 0 });
    try {
      const r = await runVigil(["alerts", "ack", "--data", data, "--id", "1", "--by", "ada"]);
      assertEquals(r.code, 3, r.stderr);
      assertMatch(r.stderr, /in use by another writer.*Operator page/);
      assertEquals(serving.size, 1);
    } finally {
      await serving.close();
    }
    const listed = parseLines((await runVigil(["alerts", "--data", data])).stdout);
    assertEquals(listed[0]!.ack, undefined);
  });
});

Deno.test("vigil detect and vigil alerts refuse bad input with exit 2", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const store = await Store.open(data, { checkpointIntervalMs: 0 });
    await store.close();
    await Deno.writeTextFile(`${dir}/bad.toml`, "[detect]\nfailed_login_burts = 3\n");
    const cases: [string[], RegExp][] = [
      [["detect"], /missing --data/],
      [["detect", "--data", `${dir}/nope`], /not a Vigil data directory/],
      [["detect", "--data", data, "--from", "yesterday"], /--from/],
      [
        ["detect", "--data", data, "--config", `${dir}/bad.toml`],
        /failed_login_burts: unknown key/,
      ],
      [["alerts", "--data", data, "--format", "csv"], /--format must be jsonl or table/],
      [["alerts", "--data", data, "--severity", "urgent"], /--severity/],
      [["alerts", "ack", "--data", data, "--id", "1", "--by", "ada"], /no alerts/],
    ];
    for (const [args, re] of cases) {
      const r = await runVigil(args);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assertMatch(r.stderr, re);
    }
    assertEquals((await runVigil(["detect", "--data", data])).code, 0);
    const r = await runVigil(["alerts", "ack", "--data", data, "--id", "9", "--by", "ada"]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /no alert with id 9/);
  });
});
