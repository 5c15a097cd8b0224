/**
 * The access database: `access.sqlite` in the data directory, holding users, sessions, API
 * tokens, login throttling and verification runs. Unlike the search index this is not derived
 * from the log and cannot be rebuilt from it, so it lives in its own file, created 0600 because
 * it holds password hashes. `vigil user add` and `vigil serve` may write it at the same time:
 * WAL journal and a busy timeout let them take turns.
 */

import { DatabaseSync } from "node:sqlite";

/** File name inside the data directory. */
export const ACCESS_FILE = "access.sqlite";

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'auditor', 'operator')),
  pw TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_login_at INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  client_addr TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER,
  revoked_by TEXT
);
CREATE TABLE IF NOT EXISTS throttle (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  locked_until INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS verify_runs (
  id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  events INTEGER NOT NULL,
  checkpoints INTEGER NOT NULL,
  problem TEXT,
  by_user TEXT NOT NULL
);
`;

/** Opens (creating 0600) the access database of `dataDir`. */
export function openAccessDb(dataDir: string): DatabaseSync {
  const path = `${dataDir}/${ACCESS_FILE}`;
  try {
    // Create the file with its mode before SQLite does, so it is never readable by others.
    Deno.openSync(path, { create: true, write: true, mode: 0o600 }).close();
    Deno.chmodSync(path, 0o600);
  } catch (e) {
    throw new Error(`Cannot create access database ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("BEGIN IMMEDIATE");
    try {
      const v = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
      if (v > SCHEMA_VERSION) {
        throw new Error(`schema version ${v} is newer than this build's ${SCHEMA_VERSION}`);
      }
      db.exec(SCHEMA);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  } catch (e) {
    db.close();
    throw new Error(`Cannot open access database ${path}: ${(e as Error).message}`, { cause: e });
  }
  // The WAL and shared-memory files hold the same secrets; SQLite creates them with the
  // database file's mode, but a umask could widen them.
  for (const side of ["-wal", "-shm"]) {
    try {
      Deno.chmodSync(path + side, 0o600);
    } catch { /* not created yet: SQLite copies the main file's mode */ }
  }
  return db;
}
