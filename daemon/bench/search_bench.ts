/**
 * `vigil bench search [--events N]`: what a user of the Events page waits for on a large store.
 * N events (default 10M) are appended through the real store and indexed by the real index
 * feed (both timed), then the web app is served on a loopback port and a signed-in auditor's
 * searches are timed end to end over HTTP — request, the audit event it records (fsynced), the
 * index query, rendering, and the whole body read. Three workloads, each reported as p95 with a
 * reference of the same filter run straight against the SQLite index in the same run: a role +
 * one-day time range, full text on statements (terms from common to rare, each also on its
 * own), and the two together. Every page's events are read from the log by seq, as the app
 * always does; the reference is the index alone naming the page's seqs. The index's size on disk
 * is reported per event against the segment files'. The RSS of the process — the store, index,
 * web app and this small client — is sampled while it serves.
 */

import { AccessStore } from "../access/mod.ts";
import type { NewEvent } from "../event/model.ts";
import { INDEX_FILE } from "../index/event_index.ts";
import { attachIndex, openIndexForRead } from "../index/feed.ts";
import type { EventFilter } from "../index/filter.ts";
import { StatusBoard } from "../serve/status_board.ts";
import { Store } from "../store/store.ts";
import { createWebApp } from "../../web/app.ts";
import type { BenchResult } from "./store_bench.ts";

const T0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z, µs
const SPAN_US = 30 * 86_400_000_000; // the events cover 30 days
const DAY_US = 86_400_000_000;
const BATCH = 20_000;
const QUERIES = 200;
const ROLES = Array.from(
  { length: 24 },
  (_, i) => i < 4 ? ["app_billing", "etl", "postgres", "reporting"][i]! : `user${i}`,
);
const SOURCES = ["billing-wal", "billing-pgaudit", "hr-pgaudit"];
const TABLES = ["public.accounts", "public.payments", "public.invoices", "hr.salaries"];
/**
 * Full-text terms from common to rare: of N events, ~15% hold each of the first two (a quarter
 * of the statements), 2% `iban`, and one in 100 000 `pg_read_file`.
 */
const TERMS = ["payments", "hr.salaries", "iban", "pg_read_file"];
const PASSWORD = "search bench password 1";

/** Event `i` of `n`: 40% WAL row changes (no statement), the rest pgAudit statements. */
function benchEvent(i: number, n: number): NewEvent {
  const ts = T0 + Math.floor((i * SPAN_US) / n);
  const role = ROLES[(i * 7) % ROLES.length]!;
  const table = TABLES[i % TABLES.length]!;
  if (i % 5 < 2) {
    return {
      ts,
      source: SOURCES[0]!,
      kind: "row_change",
      role,
      db: "billing",
      object: table,
      command: "UPDATE",
      context: { id: i % 100_000 },
    };
  }
  let statement = `SELECT balance, updated_at FROM ${table} WHERE id = ${i % 100_000}`;
  if (i % 50 === 3) statement = `UPDATE public.customers SET iban = $1 WHERE id = ${i % 100_000}`;
  if (i % 100_000 === 7) statement = "SELECT pg_read_file('/etc/passwd')";
  return {
    ts,
    source: SOURCES[1 + (i % 2)]!,
    kind: "session",
    role,
    db: table.startsWith("hr.") ? "hr" : "billing",
    object: table,
    command: statement.slice(0, 6),
    statement,
    client_addr: `10.1.${i % 7}.${i % 250}`,
  };
}

/** Total size of the files that exist among `paths`. */
async function sizeOf(paths: readonly string[]): Promise<number> {
  let total = 0;
  for (const p of paths) {
    try {
      total += (await Deno.stat(p)).size;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return total;
}

/** The files of a directory. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) out.push(`${dir}/${e.name}`);
  return out;
}

function p95(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]! * 10) / 10;
}

/** Appends `n` events, two batches in flight, and returns the seconds it took. */
async function fill(store: Store, n: number): Promise<number> {
  const t = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let at = 0; at < n; at += BATCH) {
    const events: NewEvent[] = [];
    for (let i = at; i < Math.min(n, at + BATCH); i++) events.push(benchEvent(i, n));
    inFlight.push(store.append({ source: "bench", events }));
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return (performance.now() - t) / 1000;
}

/** Cookies of a tiny client: enough to sign in and carry the session. */
class Jar {
  #c = new Map<string, string>();
  header(): string {
    return [...this.#c].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      this.#c.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }
}

async function signIn(base: string, jar: Jar, name: string): Promise<void> {
  const form = await fetch(`${base}/login`);
  jar.take(form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!csrf) throw new Error("Cannot sign in for the search bench: no CSRF token on /login");
  const body = new URLSearchParams({ _csrf: csrf, name, password: PASSWORD, next: "" });
  const res = await fetch(`${base}/login`, {
    method: "POST",
    body,
    redirect: "manual",
    headers: { Cookie: jar.header(), Origin: base },
  });
  await res.body?.cancel();
  if (res.status !== 303) throw new Error(`Cannot sign in for the search bench: ${res.status}`);
  jar.take(res);
}

const WORKLOADS = ["role_time", "text", "text_role_time"] as const;

/** The i-th query of a workload, as a filter and as the Events page's query string. */
function workload(kind: typeof WORKLOADS[number], i: number): EventFilter {
  const text = TERMS[i % TERMS.length]!;
  if (kind === "text") return { text };
  const day = (i * 11) % 30;
  return {
    role: ROLES[(i * 5) % ROLES.length]!,
    from: T0 + day * DAY_US,
    to: T0 + (day + 1) * DAY_US,
    ...(kind === "text_role_time" ? { text } : {}),
  };
}

function queryString(f: EventFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    q.set(k, typeof v === "number" ? new Date(v / 1000).toISOString() : String(v));
  }
  return q.toString();
}

/** Runs the search benchmark; returns one result per measurement. */
export async function benchSearch(opts: { events: number; dir: string }): Promise<BenchResult[]> {
  const { events, dir } = opts;
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  const closers: (() => unknown)[] = [() => store.close()];
  const out: BenchResult[] = [];
  try {
    const appendS = await fill(store, events);
    out.push({
      bench: "search.fill",
      value: Math.round(events / appendS),
      unit: "events/s",
      seconds: Math.round(appendS),
      events,
    });
    const t = performance.now();
    const feed = await attachIndex(store);
    closers.push(() => feed.close());
    const indexS = (performance.now() - t) / 1000;
    out.push({
      bench: "search.index_build",
      value: Math.round(indexS),
      unit: "s",
      events,
      rate: Math.round(events / indexS),
    });
    await feed.drain();
    const indexBytes = await sizeOf([`${dir}/${INDEX_FILE}`, `${dir}/${INDEX_FILE}-wal`]);
    const segmentBytes = await sizeOf(await listFiles(`${dir}/segments`));
    out.push({
      bench: "search.index_size",
      value: Math.round(indexBytes / events),
      unit: "bytes/event",
      reference: {
        name: "segment files, bytes/event",
        value: Math.round(segmentBytes / events),
      },
      ratio: Math.round((indexBytes / Math.max(1, segmentBytes)) * 100) / 100,
      bytes: indexBytes,
    });
    const index = openIndexForRead(dir);
    if (index === null) throw new Error(`Cannot run the search bench: no index in ${dir}`);
    closers.push(() => index.close());
    const access = AccessStore.open(dir);
    closers.push(() => access.close());
    await access.users.add("bench_auditor", "auditor", PASSWORD);
    const app = createWebApp({
      store,
      index,
      access,
      status: new StatusBoard({ version: "bench", dataDir: dir }),
      tls: false,
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
    closers.push(() => server.shutdown());
    const base = `http://127.0.0.1:${server.addr.port}`;
    const jar = new Jar();
    await signIn(base, jar, "bench_auditor");
    const rssBefore = Deno.memoryUsage().rss;
    let rssMax = rssBefore;
    for (const kind of WORKLOADS) {
      const http: number[] = [], direct: number[] = [];
      // Full text per term too: its cost follows how many events hold the term.
      const perTerm = new Map<string, number[]>();
      for (let i = -5; i < QUERIES; i++) {
        const f = workload(kind, i + 5);
        const s = performance.now();
        const res = await fetch(`${base}/events?${queryString(f)}`, {
          headers: { Cookie: jar.header() },
        });
        const html = await res.text();
        const ms = performance.now() - s;
        if (res.status !== 200 || !html.includes("<table")) {
          throw new Error(`Search bench: /events?${queryString(f)} answered ${res.status}`);
        }
        const d = performance.now();
        index.seqs({ ...f, order: "desc", limit: 51 });
        const directMs = performance.now() - d;
        rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
        if (i < 0) continue;
        http.push(ms), direct.push(directMs);
        if (f.text !== undefined) perTerm.set(f.text, [...perTerm.get(f.text) ?? [], ms]);
      }
      const value = p95(http), ref = p95(direct);
      out.push({
        bench: `search.${kind}.p95`,
        value,
        unit: "ms",
        reference: { name: "the same filter straight on the SQLite index", value: ref },
        ratio: Math.round((value / Math.max(ref, 0.1)) * 100) / 100,
        goal_ms: kind === "role_time" ? 200 : 500,
        ...(perTerm.size > 0
          ? { p95_by_term: Object.fromEntries([...perTerm].map(([t, ms]) => [t, p95(ms)])) }
          : {}),
        queries: QUERIES,
        events,
      });
    }
    out.push({
      bench: "search.rss",
      value: Math.round(rssMax / 2 ** 20),
      unit: "MiB",
      reference: {
        name: "RSS after indexing, before the queries",
        value: Math.round(rssBefore / 2 ** 20),
      },
      ratio: Math.round((rssMax / rssBefore) * 100) / 100,
    });
    return out;
  } finally {
    for (const c of closers.reverse()) await c();
  }
}
