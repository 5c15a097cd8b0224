/**
 * Takes a screenshot of each view — sign-in, Operator, Events, an event, Management, the evidence
 * pack, Administration — in real Chromium against the test world, made richer here (three
 * sources, several alerts, export targets), into a directory given on the command line (the
 * README's images live in `docs/screenshots/`):
 *
 * ```sh
 * deno run --allow-all tests/web/screenshots.ts docs/screenshots
 * ```
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import type { StatusProvider } from "../../daemon/serve/status.ts";
import { createWebApp } from "../../web/app.ts";
import type { Alert, ExportsState } from "../../web/deps.ts";
import { MemoryAlerts } from "./_alerts.ts";
import { startBrowser } from "./_browser.ts";
import { openWorld, PASSWORD, type World } from "./_harness.ts";
import { STATUS_NOW } from "./_status.ts";

const DAY0 = 1_767_139_200_000_000; // 2025-12-31T00:00:00Z, µs
const MIN = 60_000_000;

/** A day of two more sources beside the harness's: pgAudit on billing and on HR. */
function moreEvents(): NewEvent[] {
  const out: NewEvent[] = [];
  const hr = [
    ["dave", "SELECT name, salary FROM hr.salaries WHERE dept = 'R&D' ORDER BY salary DESC"],
    ["app_hr", "UPDATE hr.employees SET manager_id = 4017 WHERE id = 5120"],
    ["etl", "COPY hr.salaries TO STDOUT WITH (FORMAT csv)"],
    ["dave", "GRANT SELECT ON hr.salaries TO reporting"],
    ["postgres", "ALTER ROLE etl WITH PASSWORD <REDACTED>"],
  ];
  const billing = [
    ["app_billing", "INSERT INTO public.payments (account_id, amount) VALUES ($1, $2)"],
    ["reporting", "SELECT date_trunc('day', ts), sum(amount) FROM public.payments GROUP BY 1"],
    ["alice", "DELETE FROM public.invoices WHERE status = 'draft' AND created < now() - '90 days'"],
  ];
  for (let i = 0; i < 96; i++) {
    const [role, statement] = (i % 2 ? hr[i % hr.length] : billing[i % billing.length])!;
    out.push({
      ts: DAY0 + 130 * MIN + i * 13 * MIN,
      source: i % 2 ? "hr-log" : "billing-log",
      kind: "session",
      role: role!,
      db: i % 2 ? "hr" : "billing",
      command: statement!.split(" ")[0]!,
      class: /^(GRANT|ALTER)/.test(statement!)
        ? "ROLE"
        : /^SELECT|^COPY/.test(statement!)
        ? "READ"
        : "WRITE",
      statement: statement!,
      client_addr: `10.20.${i % 3}.${40 + (i % 9)}`,
      application_name: i % 2 ? "hr-portal" : "billing-api",
    });
  }
  return out;
}

/** Alerts of several rules and severities; one reviewed. */
function alerts(): Alert[] {
  const base = { db: "hr", seqs: [] as number[] };
  return [
    {
      ...base,
      id: 2,
      ts_from: DAY0 + 700 * MIN,
      ts_to: DAY0 + 712 * MIN,
      rule: "bulk_read",
      severity: "critical",
      role: "etl",
      client_addr: "10.20.1.44",
      score: 0.98,
      reason: "etl copied all of hr.salaries (41,200 rows) at 11:40, never seen before",
    },
    {
      ...base,
      id: 3,
      ts_from: DAY0 + 900 * MIN,
      ts_to: DAY0 + 901 * MIN,
      rule: "privilege_change",
      severity: "high",
      role: "dave",
      client_addr: "10.20.2.41",
      score: 0.9,
      reason: "GRANT on hr.salaries to reporting outside a change window",
    },
    {
      ...base,
      id: 4,
      ts_from: DAY0 + 1100 * MIN,
      ts_to: DAY0 + 1160 * MIN,
      rule: "off_hours",
      severity: "medium",
      role: "alice",
      client_addr: "10.20.0.45",
      db: "billing",
      score: 0.71,
      reason: "alice deleted 312 invoices at 19:20, outside her usual hours",
    },
    {
      ...base,
      id: 5,
      ts_from: DAY0 + 400 * MIN,
      ts_to: DAY0 + 420 * MIN,
      rule: "new_client_addr",
      severity: "low",
      role: "reporting",
      client_addr: "10.20.2.47",
      db: "billing",
      score: 0.55,
      reason: "reporting connected from a new address",
      ack: { by: "admin1", note: "new BI host, ticket OPS-2231", ts: DAY0 + 500 * MIN },
    },
  ];
}

const EXPORTS: ExportsState = {
  status: () => ({
    targets: [
      {
        name: "s3-archive",
        type: "s3",
        location: "s3://audit-archive/vigil",
        state: "ok",
        exportedEnd: 120,
        lastRunAt: DAY0 + 1430 * MIN,
        lastSuccessAt: DAY0 + 1430 * MIN,
        nextRunAt: DAY0 + 1490 * MIN,
        lastError: null,
      },
      {
        name: "usb-weekly",
        type: "dir",
        location: "/media/audit",
        state: "failed",
        exportedEnd: 0,
        lastRunAt: DAY0 + 1200 * MIN,
        lastSuccessAt: null,
        nextRunAt: DAY0 + 1260 * MIN,
        lastError: "Cannot write to /media/audit: no such directory",
      },
    ],
  }),
};

/** The harness's two sources and a third, healthy one: the HR database's pgAudit log. */
function withHrSource(status: StatusProvider): StatusProvider {
  return {
    current: () => {
      const now = status.current();
      const billing = now.sources[0]!;
      const hr = { ...billing, name: "hr-log", type: "pgaudit", events: 21_480, gauges: {} };
      return { ...now, sources: [...now.sources, hr] };
    },
    series: (source, window) => status.series(source === "hr-log" ? "billing" : source, window),
  };
}

/** The test world with more sources, alerts and export targets; returns a fresh app over it. */
async function richWorld(): Promise<
  { world: World; app: ReturnType<typeof createWebApp>; eventSeq: number }
> {
  const world = await openWorld({
    // The pages' clock agrees with the fixed status snapshot, so ages read as they would live.
    now: () => STATUS_NOW + 5_000,
    exports: EXPORTS,
    config: {
      data_dir: "/var/lib/vigil",
      web: { listen: "127.0.0.1:8443" },
      sources: [
        { name: "billing", type: "wal", dsn: "postgres://vigil:secret@db1:5432/billing" },
        { name: "billing-log", type: "pgaudit", log_dir: "/var/log/postgresql" },
        { name: "hr-log", type: "pgaudit", log_dir: "/srv/hr/pg_log" },
      ],
    },
  });
  try {
    const more = moreEvents();
    const { firstSeq } = await world.store.append({ source: "screenshots", events: more });
    // An application posting its own trail with a token, and a SIEM reading with another.
    world.access.tokens.create("crm-app", ["ingest"], "admin1");
    world.access.tokens.create("siem-reader", ["read"], "admin1");
    await world.store.append({
      source: "crm-app",
      events: ["LOGIN", "VIEW_CUSTOMER", "EXPORT_CSV", "LOGOUT"].map((command, i) => ({
        ts: DAY0 + 600 * MIN + i * 7 * MIN,
        source: "crm-app",
        kind: "app" as const,
        app_user: "grace@example.com",
        role: "grace@example.com",
        command,
        client_addr: "198.51.100.23",
        ...(command === "EXPORT_CSV" ? { context: { rows: 1200, table: "customers" } } : {}),
      })),
    });
    await world.store.checkpoint(true);
    await world.feed.drain();
    const grant = more.findIndex((e) => e.statement?.startsWith("GRANT"));
    const app = createWebApp({
      ...world.deps,
      status: withHrSource(world.deps.status),
      alerts: new MemoryAlerts(alerts()),
    });
    return { world, app, eventSeq: firstSeq + grant };
  } catch (e) {
    await world.close();
    throw e;
  }
}

/** Writes `<name>.png` for each view into `outDir`; returns the files written. */
export async function takeScreenshots(outDir: string): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const { world, app, eventSeq } = await richWorld();
  const views: [string, string][] = [
    ["operator", "/operator"],
    ["events", "/events?kind=session"],
    ["event", `/events/${eventSeq}`],
    ["management", "/management?from=2025-12-30&to=2026-01-02"],
    ["evidence", "/management/evidence?from=2025-12-30&to=2026-01-02"],
    ["admin", "/admin"],
  ];
  const files: string[] = [];
  try {
    const run = await startBrowser((req, info) => app.fetch(req, info));
    try {
      const page = await run.context.newPage();
      // One screen each (not the full page): small files, and what a person sees first.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${run.base}/login`);
      await page.screenshot({ path: `${outDir}/login.png` });
      files.push(`${outDir}/login.png`);
      await page.fill('input[name="name"]', "admin1");
      await page.fill('input[name="password"]', PASSWORD);
      await page.click('button:has-text("Sign in")');
      await page.waitForLoadState();
      for (const [name, path] of views) {
        const res = await page.goto(`${run.base}${path}`);
        if (res?.status() !== 200) throw new Error(`Cannot screenshot ${path}: ${res?.status()}`);
        const file = `${outDir}/${name}.png`;
        await page.screenshot({ path: file });
        files.push(file);
      }
    } finally {
      await run.close();
    }
  } finally {
    await world.close();
  }
  return files;
}

if (import.meta.main) {
  const out = Deno.args[0];
  if (!out) {
    console.error("usage: deno run --allow-all tests/web/screenshots.ts OUT_DIR");
    Deno.exit(2);
  }
  for (const f of await takeScreenshots(out)) console.log(f);
}
