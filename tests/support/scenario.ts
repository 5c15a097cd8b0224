/**
 * A seeded generator of realistic audit traffic for the detection tests: weeks of ordinary work
 * by a handful of roles with daily and weekly rhythm — two service accounts, a DBA, two analysts
 * and a nightly batch job — and injected insider scenarios, each made of episodes whose events
 * are labelled so a test can tell found incidents from false alerts. The last two scenarios are
 * about a place rather than a role: a new application flooding a database, and one client
 * address used by several roles at once.
 *
 * @example
 * const s = generateScenario({ seed: 7, days: 28 });
 * engine.feed(s.events.map((event, seq) => ({ seq, event: { ...event, seq } })));
 */

import type { AuditEvent, NewEvent } from "../../daemon/event/model.ts";
import { prng } from "./random.ts";

const HOUR = 3_600_000_000;
const DAY = 24 * HOUR;
/** Monday 2026-01-05 00:00 UTC: weeks start on Monday. */
export const SCENARIO_START = Date.UTC(2026, 0, 5) * 1000;

/** Objects the detection config marks sensitive in these tests. */
export const SENSITIVE = ["hr.*", "public.customers_pii", "finance.*"];

/** The insider scenarios injected. */
export const SCENARIOS = [
  "bulk_read_at_night",
  "destructive_ddl",
  "password_guessing",
  "privilege_escalation",
  "new_address_off_hours",
  "slow_exfiltration",
  "new_app_flood",
  "shared_client_addr",
] as const;
export type ScenarioName = typeof SCENARIOS[number];

/** Generated traffic: events in event-time order, and the label of each injected one. */
export interface Scenario {
  events: NewEvent[];
  /** Index into `events` → `scenario#episode`. */
  labels: Map<number, string>;
  /** Every episode, as `scenario#episode`. */
  episodes: string[];
  days: number;
}

interface Role {
  role: string;
  addrs: string[];
  app: string;
  db: string;
  /** Mean statements per active hour at UTC hour h on weekday d (0 = Sunday). */
  rate: (h: number, d: number) => number;
  objects: string[];
  writes: number;
  ddl: number;
}

const REPORTS = Array.from({ length: 12 }, (_, i) => `report.r${i}`);

function roles(): Role[] {
  const business = (from: number, to: number, n: number) => (h: number, d: number) =>
    d >= 1 && d <= 5 && h >= from && h < to ? n : 0;
  return [
    {
      role: "app_rw",
      addrs: ["10.0.1.10", "10.0.1.11"],
      app: "shop-api",
      db: "shop",
      rate: (h, d) => (h >= 7 && h < 21 ? (d === 0 || d === 6 ? 20 : 40) : 8),
      objects: ["public.orders", "public.customers", "public.items", "public.payments"],
      writes: 0.4,
      ddl: 0,
    },
    {
      role: "app_ro",
      addrs: ["10.0.1.20"],
      app: "catalog",
      db: "shop",
      rate: (h) => (h >= 6 && h < 23 ? 15 : 3),
      objects: ["public.items", "public.prices", "public.stock"],
      writes: 0,
      ddl: 0,
    },
    {
      role: "dba_alice",
      addrs: ["10.0.2.5"],
      app: "psql",
      db: "shop",
      rate: business(8, 18, 6),
      objects: ["public.orders", "public.items", "pg_catalog.pg_stat_activity", "public.stock"],
      writes: 0.1,
      ddl: 0.03,
    },
    {
      role: "analyst_bob",
      addrs: ["10.0.3.20"],
      app: "metabase",
      db: "shop",
      rate: business(9, 17, 10),
      objects: REPORTS.slice(0, 8),
      writes: 0,
      ddl: 0,
    },
    {
      role: "analyst_carol",
      addrs: ["10.0.3.21"],
      app: "jupyter",
      db: "shop",
      rate: business(10, 18, 8),
      objects: REPORTS.slice(4, 12),
      writes: 0,
      ddl: 0,
    },
    {
      role: "etl_batch",
      addrs: ["10.0.4.7"],
      app: "etl",
      db: "shop",
      rate: (h) => (h === 2 ? 30 : 0),
      objects: ["staging.orders", "staging.items", "dw.fact_sales", "dw.dim_item"],
      writes: 0.5,
      ddl: 0.05,
    },
  ];
}

function poisson(rand: () => number, mean: number): number {
  // Knuth's method is fine for the small means here.
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

function stmt(r: Role, ts: number, cmd: string, object: string, extra: Partial<NewEvent> = {}) {
  const cls = cmd === "SELECT"
    ? "READ"
    : ["INSERT", "UPDATE", "DELETE"].includes(cmd)
    ? "WRITE"
    : ["GRANT", "REVOKE", "ALTER ROLE", "CREATE ROLE"].includes(cmd)
    ? "ROLE"
    : "DDL";
  const ev: NewEvent = {
    ts,
    source: "shop-log",
    kind: "session",
    db: r.db,
    role: r.role,
    client_addr: r.addrs[0]!,
    application_name: r.app,
    audit_type: "SESSION",
    class: cls,
    command: cmd,
    object,
    object_type: "TABLE",
    statement: `${cmd} ${object}`,
    ...extra,
  };
  return ev;
}

/** Generates `days` days of traffic with the scenarios in the last week. */
export function generateScenario(opts: { seed: number; days?: number }): Scenario {
  const days = opts.days ?? 28;
  const rand = prng(opts.seed);
  const out: { ev: NewEvent; label?: string }[] = [];
  const rs = roles();
  for (let day = 0; day < days; day++) {
    for (let h = 0; h < 24; h++) {
      const t0 = SCENARIO_START + day * DAY + h * HOUR;
      const wd = new Date(t0 / 1000).getUTCDay();
      for (const r of rs) {
        const n = poisson(rand, r.rate(h, wd));
        if (n > 0) {
          const addr = r.addrs[Math.floor(rand() * r.addrs.length)]!;
          out.push({ ev: connect(r, addr, t0 + 1000) });
        }
        for (let i = 0; i < n; i++) {
          const ts = t0 + 2000 + Math.floor(rand() * (HOUR - 4000));
          const obj = r.objects[Math.floor(rand() * r.objects.length)]!;
          const x = rand();
          const cmd = x < r.ddl
            ? (r.role === "etl_batch" ? "TRUNCATE TABLE" : "CREATE INDEX")
            : x < r.ddl + r.writes
            ? "INSERT"
            : "SELECT";
          out.push({ ev: stmt(r, ts, cmd, obj) });
        }
        // Now and then someone mistypes a password: one or two failures, far below a burst.
        if (n > 0 && r.app === "psql" && rand() < 0.05) {
          out.push({ ev: failedLogin(r.role, r.addrs[0]!, t0 + 500) });
        }
      }
    }
    // Analysts find a new report table about once a fortnight: ordinary novelty.
    if (day % 14 === 10) {
      const r = rs[3]!;
      const ts = SCENARIO_START + day * DAY + 11 * HOUR;
      out.push({ ev: stmt(r, ts, "SELECT", `report.new${day}`) });
    }
  }
  inject(out, rs, days, rand);
  const order = out.map((x, i) => ({ ...x, i })).sort((a, b) => a.ev.ts - b.ev.ts || a.i - b.i);
  const labels = new Map<number, string>();
  order.forEach((x, i) => x.label !== undefined && labels.set(i, x.label));
  return {
    events: order.map((x) => x.ev),
    labels,
    episodes: [...new Set(labels.values())].sort(),
    days,
  };
}

function connect(r: Role, addr: string, ts: number): NewEvent {
  return {
    ts,
    source: "shop-log",
    kind: "auth",
    role: r.role,
    db: r.db,
    client_addr: addr,
    application_name: r.app,
    command: "CONNECT",
  };
}

function failedLogin(role: string, addr: string, ts: number): NewEvent {
  return {
    ts,
    source: "shop-log",
    kind: "auth",
    role,
    db: "shop",
    client_addr: addr,
    command: "LOGIN FAILED",
    sqlstate: "28P01",
    error: `password authentication failed for user "${role}"`,
  };
}

function inject(
  out: { ev: NewEvent; label?: string }[],
  rs: Role[],
  days: number,
  rand: () => number,
): void {
  const [rw, ro, alice, bob, carol] = rs as [Role, Role, Role, Role, Role, Role];
  const at = (day: number, h: number, m = 0) => SCENARIO_START + day * DAY + h * HOUR + m * 60e6;
  const base = days - 7;
  const push = (label: string, ev: NewEvent) => out.push({ ev, label });
  // Bulk reading at night: bob sweeps 45 tables at 01:10 on a Tuesday.
  const sweep = [
    ...REPORTS,
    "public.orders",
    "public.customers",
    "public.customers_pii",
    "hr.salaries",
    "hr.employees",
    ...Array.from({ length: 28 }, (_, i) => `public.t${i}`),
  ];
  sweep.forEach((o, i) =>
    push("bulk_read_at_night#1", stmt(bob, at(base + 1, 1, 10) + i * 30e6, "SELECT", o))
  );
  // Destructive DDL by an analyst who never ran DDL.
  push("destructive_ddl#1", stmt(carol, at(base + 2, 14, 5), "DROP TABLE", "report.r7"));
  push("destructive_ddl#1", stmt(carol, at(base + 2, 14, 6), "TRUNCATE TABLE", "report.r6"));
  // Password guessing against postgres from outside, 30 tries in 6 minutes.
  for (let i = 0; i < 30; i++) {
    push(
      "password_guessing#1",
      failedLogin("postgres", "203.0.113.50", at(base + 3, 3) + i * 12e6),
    );
  }
  // Privilege escalation by the DBA during working hours.
  push(
    "privilege_escalation#1",
    stmt(alice, at(base + 3, 11, 20), "ALTER ROLE", "analyst_bob", {
      object_type: "ROLE",
      statement: "ALTER ROLE analyst_bob WITH SUPERUSER",
    }),
  );
  push(
    "privilege_escalation#2",
    stmt(alice, at(base + 4, 15, 2), "GRANT", "hr.salaries", {
      statement: "GRANT SELECT ON hr.salaries TO analyst_carol",
    }),
  );
  // A known user from a new address late on a Saturday.
  const away = { ...alice, addrs: ["198.51.100.23"] };
  for (let i = 0; i < 6; i++) {
    push(
      "new_address_off_hours#1",
      stmt(away, at(base + 5, 23, 5 + i * 7), "SELECT", alice.objects[i % 4]!),
    );
  }
  // Slow exfiltration: carol reads two or three unfamiliar finance and hr tables a day, in hours.
  const loot = [
    "finance.ledger",
    "finance.payroll",
    "hr.reviews",
    "finance.cards",
    "hr.addresses",
    "finance.tax",
    "hr.medical",
    "finance.bank",
    "hr.contracts",
    "finance.invoices",
  ];
  for (let d = 0; d < 5; d++) {
    for (let k = 0; k < 2; k++) {
      const o = loot[d * 2 + k]!;
      push(
        `slow_exfiltration#${d + 1}`,
        stmt(carol, at(base + d, 11 + k * 3, Math.floor(rand() * 50)), "SELECT", o),
      );
    }
  }
  // A new application under the shop service account floods the database one afternoon.
  const sync = { ...rw, app: "dbsync", addrs: ["10.0.1.11"] };
  for (let i = 0; i < 250; i++) {
    const o = rw.objects[i % rw.objects.length]!;
    push(
      "new_app_flood#1",
      stmt(sync, at(base + 2, 13) + 5e6 + i * 14e6, i % 5 === 0 ? "INSERT" : "SELECT", o),
    );
  }
  // One workstation used by four roles within twenty minutes: shared or stolen credentials.
  const desk = "10.0.3.20";
  [bob, carol, alice, ro].forEach((r, k) => {
    for (let i = 0; i < 3; i++) {
      push(
        "shared_client_addr#1",
        stmt({ ...r, addrs: [desk] }, at(base + 3, 16, 5 + k * 5 + i), "SELECT", r.objects[i]!),
      );
    }
  });
}

/** Gives generated events their seqs, as the store would. */
export function withSeqs(events: NewEvent[], ingest = SCENARIO_START): AuditEvent[] {
  return events.map((e, seq) => ({ ...e, seq, ingest_ts: e.ingest_ts ?? ingest }));
}
