/**
 * The web tests' world: a real store in a temp dir with realistic events (among them hostile
 * statements and a WAL gap alarm), a real index fed from it, a real access database with one
 * user per role, a fixed StatusProvider and in-memory alerts — and `close()`, which undoes all
 * of it whatever state the test left.
 */

import { AccessStore } from "../../daemon/access/mod.ts";
import type { AuditEvent, NewEvent } from "../../daemon/event/model.ts";
import { readLog } from "../../daemon/store/log_reader.ts";
import type { EventIndex } from "../../daemon/index/event_index.ts";
import { attachIndex, type IndexFeed, openIndexForRead } from "../../daemon/index/feed.ts";
import { Store } from "../../daemon/store/store.ts";
import { createWebApp } from "../../web/app.ts";
import type { ExportsState, WebDeps } from "../../web/deps.ts";
import { makeWritable } from "../support/store.ts";
import { MemoryAlerts } from "./_alerts.ts";
import { FixedStatus } from "./_status.ts";

/** The password of every test user. */
export const PASSWORD = "correct horse battery staple";
/** A statement that would run script if it were ever rendered as markup. */
export const XSS_STATEMENT = `SELECT '<script>alert(1)</script><img src=x onerror=alert(2)>'`;
/** A statement with a right-to-left override that would disguise what follows. */
export const BIDI_STATEMENT = "SELECT 1 /* \u202Eevil\u202C */ FROM accounts";

const T0 = 1_767_139_200_000_000; // 2025-12-31T00:00:00Z in µs

/** The seeded events: sessions of three roles, a hostile pair, a gap alarm. */
export function seedEvents(): NewEvent[] {
  const out: NewEvent[] = [];
  for (let i = 0; i < 120; i++) {
    out.push({
      ts: T0 + i * 60_000_000,
      source: "billing",
      kind: i % 3 === 0 ? "row_change" : "session",
      role: ["alice", "bob", "carol"][i % 3]!,
      db: "billing",
      object: `public.accounts`,
      command: i % 2 ? "SELECT" : "UPDATE",
      statement: i % 2
        ? `SELECT balance FROM public.accounts WHERE id = ${i}`
        : `UPDATE public.accounts SET balance = balance - ${i} WHERE id = ${i}`,
      client_addr: "10.1.2.3",
    });
  }
  out.push({
    ts: T0 + 121 * 60_000_000,
    source: "billing",
    kind: "session",
    role: "mallory",
    db: "billing",
    command: "SELECT",
    statement: XSS_STATEMENT,
  });
  out.push({
    ts: T0 + 122 * 60_000_000,
    source: "billing",
    kind: "session",
    role: "mallory",
    db: "billing",
    command: "SELECT",
    statement: BIDI_STATEMENT,
  });
  out.push({
    ts: T0 + 123 * 60_000_000,
    source: "billing",
    kind: "system",
    db: "billing",
    command: "WAL_GAP",
    error: "the replication slot was dropped; collection goes on from 0/16B3748",
    context: { reason: "slot_missing" },
  });
  return out;
}

/** The running world of one test. */
export interface World {
  dir: string;
  store: Store;
  index: EventIndex;
  feed: IndexFeed;
  access: AccessStore;
  alerts: MemoryAlerts;
  deps: WebDeps;
  app: ReturnType<typeof createWebApp>;
  close(): Promise<void>;
}

/** Options of {@link openWorld}. */
export interface WorldOptions {
  tls?: boolean;
  alerts?: boolean;
  config?: unknown;
  exports?: ExportsState;
  /** The web app's wall clock, ms. */
  now?: () => number;
  throttle?: { userFailures?: number; addrFailures?: number };
  /** Where the world's temp dir is made (e.g. a small tmpfs); default the system's. */
  parent?: string;
  holdBackground?: WebDeps["holdBackground"];
}

/** Builds the world; on failure, whatever was opened is closed again. */
export async function openWorld(opts: WorldOptions = {}): Promise<World> {
  const dir = await Deno.makeTempDir({
    prefix: "vigil-web-",
    ...(opts.parent === undefined ? {} : { dir: opts.parent }),
  });
  const undo: (() => Promise<void> | void)[] = [async () => {
    await makeWritable(dir);
    await Deno.remove(dir, { recursive: true });
  }];
  const close = async (): Promise<void> => {
    for (const f of undo.reverse()) await f();
  };
  try {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    undo.push(() => store.close());
    await store.append({ source: "billing", events: seedEvents() });
    await store.checkpoint(true);
    const feed = await attachIndex(store);
    undo.push(() => feed.close());
    const index = openIndexForRead(dir)!;
    undo.push(() => index.close());
    const access = AccessStore.open(dir, { throttle: opts.throttle ?? {} });
    undo.push(() => access.close());
    for (const role of ["admin", "auditor", "operator"] as const) {
      await access.users.add(`${role}1`, role, PASSWORD);
    }
    const alerts = new MemoryAlerts([{
      id: 1,
      ts_from: T0 + 121 * 60_000_000,
      ts_to: T0 + 122 * 60_000_000,
      rule: "unusual_role_activity",
      severity: "high",
      role: "mallory",
      client_addr: "10.6.6.6",
      db: "billing",
      score: 0.93,
      reason: "role mallory ran statements with <b>markup</b> never seen before",
      seqs: [120, 121],
    }]);
    const deps: WebDeps = {
      store,
      index,
      status: new FixedStatus(store),
      access,
      tls: opts.tls ?? false,
      ...(opts.alerts === false ? {} : { alerts }),
      ...(opts.config === undefined ? {} : { config: opts.config }),
      ...(opts.exports === undefined ? {} : { exports: opts.exports }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.holdBackground === undefined ? {} : { holdBackground: opts.holdBackground }),
    };
    return { dir, store, index, feed, access, alerts, deps, app: createWebApp(deps), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The UI's own events in the log, in order. */
export async function uiEvents(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(dir)) if (r.event.source === "vigil-ui") out.push(r.event);
  return out;
}

/** Runs `fn` in a fresh world and closes it whatever happens. */
export async function withWorld(
  opts: WorldOptions,
  fn: (w: World) => Promise<void>,
): Promise<void> {
  const w = await openWorld(opts);
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}
