/**
 * Stored alerts: a SQLite database `alerts.db` in the data directory. Derived state like the
 * search index — `vigil detect` rebuilds it from the log, acknowledgements included, since each
 * ack is an event in the chain. Ids count incidents in the order detection found them, so a
 * rebuild from the same log gives the same ids.
 *
 * @example
 * const alerts = AlertStore.open(alertsPath(dataDir));
 * alerts.list({ role: "bob", minSeverity: "high" });
 * alerts.close();
 */

import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { Alert, AlertAck } from "./alert.ts";
import { SEVERITIES, type Severity } from "./config.ts";
import type { Incident } from "./dedup.ts";

/** File name of the alert store inside the data directory. */
export const ALERTS_FILE = "alerts.db";

/**
 * Meta keys. `raised_through`: every alert found while feeding a seq up to this one has been
 * raised (sent to the channels) — kept across rebuilds, so none is sent twice. `lineage`: the
 * engine whose snapshot matches these alerts; a rebuild starts a new one, and a rewrite by
 * `vigil detect` drops it, so the daemon then rebuilds rather than trust a snapshot of other
 * alerts.
 */
export const META_RAISED = "raised_through";
export const META_LINEAGE = "lineage";

/** Path of the alert store of a data directory. */
export function alertsPath(dataDir: string): string {
  return join(dataDir, ALERTS_FILE);
}

/** Filters of `AlertStore.list`. */
export interface AlertFilter {
  rule?: string;
  role?: string;
  minSeverity?: Severity;
  /** Alerts whose span ends at or after this time (µs). */
  from?: number;
  /** Alerts whose span starts before this time (µs). */
  to?: number;
  acked?: boolean;
  limit?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, severity INTEGER NOT NULL,
  role TEXT NOT NULL, client_addr TEXT, db TEXT, ts_from INTEGER NOT NULL, ts_to INTEGER NOT NULL,
  score REAL NOT NULL, reason TEXT NOT NULL, features TEXT NOT NULL, seqs TEXT NOT NULL,
  count INTEGER NOT NULL, ack TEXT);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts_to);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);`;

type Row = Record<string, SQLInputValue>;

function toAlert(r: Row): Alert {
  const a: Alert = {
    id: Number(r.id),
    key: String(r.key),
    rule: String(r.rule),
    severity: SEVERITIES[Number(r.severity)]!,
    ts_from: Number(r.ts_from),
    ts_to: Number(r.ts_to),
    role: String(r.role),
    score: Number(r.score),
    reason: String(r.reason),
    features: JSON.parse(String(r.features)),
    seqs: JSON.parse(String(r.seqs)),
    count: Number(r.count),
  };
  if (r.client_addr !== null) a.client_addr = String(r.client_addr);
  if (r.db !== null) a.db = String(r.db);
  if (r.ack !== null) a.ack = JSON.parse(String(r.ack));
  return a;
}

/** The alerts of one data directory (or of memory, for tests and benchmarks). */
export class AlertStore {
  #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens (creating) the store at `path`; `":memory:"` keeps it in memory. */
  static open(path: string, opts: { readonly?: boolean } = {}): AlertStore {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { readOnly: opts.readonly ?? false });
      if (!opts.readonly) {
        db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
        db.exec(SCHEMA);
      }
      db.exec("PRAGMA busy_timeout = 5000");
    } catch (e) {
      throw new Error(`Cannot open alert store ${path}: ${(e as Error).message}`);
    }
    return new AlertStore(db);
  }

  /** An empty store in memory. */
  static memory(): AlertStore {
    return AlertStore.open(":memory:");
  }

  /** Removes every alert: the start of a rebuild. */
  clear(): void {
    this.#db.exec("DELETE FROM alerts; DELETE FROM meta;");
  }

  /** Inserts a new incident or updates it by key; returns the stored alert. */
  save(i: Incident): Alert {
    const args: SQLInputValue[] = [
      i.key,
      i.rule,
      SEVERITIES.indexOf(i.severity),
      i.role,
      i.client_addr ?? null,
      i.db ?? null,
      i.ts_from,
      i.ts_to,
      i.score,
      i.reason,
      JSON.stringify(i.features),
      JSON.stringify(i.seqs),
      i.count,
    ];
    const row = this.#db.prepare(
      `INSERT INTO alerts (key, rule, severity, role, client_addr, db, ts_from, ts_to, score,
         reason, features, seqs, count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
       ON CONFLICT (key) DO UPDATE SET severity = excluded.severity, ts_from = excluded.ts_from,
         ts_to = excluded.ts_to, score = excluded.score, reason = excluded.reason,
         features = excluded.features, seqs = excluded.seqs, count = excluded.count,
         client_addr = excluded.client_addr, db = excluded.db
       RETURNING *`,
    ).get(...args) as Row;
    return toAlert(row);
  }

  /** Stores a whole alert with its id and ack, as another store numbered it. */
  put(a: Alert): void {
    this.#db.prepare(
      `INSERT OR REPLACE INTO alerts (id, key, rule, severity, role, client_addr, db, ts_from,
         ts_to, score, reason, features, seqs, count, ack) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(
      a.id,
      a.key,
      a.rule,
      SEVERITIES.indexOf(a.severity),
      a.role,
      a.client_addr ?? null,
      a.db ?? null,
      a.ts_from,
      a.ts_to,
      a.score,
      a.reason,
      JSON.stringify(a.features),
      JSON.stringify(a.seqs),
      a.count,
      a.ack === undefined ? null : JSON.stringify(a.ack),
    );
  }

  /** Records an acknowledgement by alert key; false when no such alert is stored. */
  setAck(key: string, ack: AlertAck): boolean {
    const r = this.#db.prepare("UPDATE alerts SET ack = ? WHERE key = ?").run(
      JSON.stringify(ack),
      key,
    );
    return Number(r.changes) > 0;
  }

  /** One alert by id. */
  get(id: number): Alert | undefined {
    const r = this.#db.prepare("SELECT * FROM alerts WHERE id = ?").get(id) as Row | undefined;
    return r === undefined ? undefined : toAlert(r);
  }

  /** Alerts matching `f`, in id order. */
  list(f: AlertFilter = {}): Alert[] {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (f.rule !== undefined) where.push("rule = ?"), args.push(f.rule);
    if (f.role !== undefined) where.push("role = ?"), args.push(f.role);
    if (f.minSeverity !== undefined) {
      where.push("severity >= ?"), args.push(SEVERITIES.indexOf(f.minSeverity));
    }
    if (f.from !== undefined) where.push("ts_to >= ?"), args.push(f.from);
    if (f.to !== undefined) where.push("ts_from < ?"), args.push(f.to);
    if (f.acked !== undefined) where.push(f.acked ? "ack IS NOT NULL" : "ack IS NULL");
    const sql = `SELECT * FROM alerts ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY id LIMIT ?`;
    args.push(f.limit ?? -1);
    return (this.#db.prepare(sql).all(...args) as Row[]).map(toAlert);
  }

  /** A value kept beside the alerts (the last seq detection fed, the range it covered). */
  meta(k: string): string | undefined {
    const r = this.#db.prepare("SELECT v FROM meta WHERE k = ?").get(k) as Row | undefined;
    return r === undefined ? undefined : String(r.v);
  }

  setMeta(k: string, v: string): void {
    this.#db.prepare("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)").run(k, v);
  }

  /** Runs `fn` in one transaction: a rebuild lands whole or not at all. */
  transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  /**
   * Runs `fn` in one transaction that commits whatever `fn` saved even when it throws: alerts
   * already handed to channels stay stored. Nested calls join the outer transaction.
   */
  batch(fn: () => void): void {
    if (this.#db.isTransaction) return fn();
    this.#db.exec("BEGIN");
    try {
      fn();
    } finally {
      this.#db.exec("COMMIT");
    }
  }

  close(): void {
    this.#db.close();
  }
}
