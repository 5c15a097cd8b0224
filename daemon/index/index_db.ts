/**
 * Opening the search index's database: the connection's settings (lock wait, WAL, the page
 * cache, small in the daemon for its memory bound), and the schema — a reader refuses a missing
 * index or one of another version ({@link IndexUnavailableError}: readers then answer from the
 * log), a writer empties one of another version and says so (`rebuilt`: feed it from the start)
 * and restores secondary indexes a cut-short bulk fill left out.
 */

import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { Drive } from "./filter_sql.ts";
import { endBulkFill, isEmpty, recreate, SCHEMA_VERSION, storedVersion } from "./schema.ts";

/** How to open the index. */
export interface OpenIndexOptions {
  /** Open for searching only, beside a writer in another process. Default false. */
  readonly?: boolean;
  /** How long to wait for another connection's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * How text searches find their events: `"auto"` (the default) chooses per query; tests name
   * one plan to check that each gives the same answer. See `Drive` in `filter_sql.ts`.
   */
  drive?: "auto" | Drive;
  /**
   * A writer's page cache, KiB. Default {@link WRITER_CACHE_KIB}, the daemon's; `vigil reindex`,
   * a process of its own, takes more (SQLite's sorts that build the B-tree indexes at the end of
   * its bulk fill run within it).
   */
  cacheKiB?: number;
}

/**
 * The index cannot be read: it does not exist yet, or it has another layout than this build
 * reads (the writer is about to rebuild it). Readers answer from the log instead.
 */
export class IndexUnavailableError extends Error {
  override name = "IndexUnavailableError";
  constructor(readonly path: string, readonly reason: "missing" | "version", detail: string) {
    super(`Cannot read search index ${path}: ${detail}`);
  }
}

/**
 * The writer's page cache, KiB. It stays resident for the daemon's life once filled, and the
 * daemon has a memory bound (256 MiB): at 32 MiB, `serve` under a WAL and a pgAudit source with
 * the index's and detection's catch-ups running went to 255–263 MiB on a 10M-event store, at 8
 * MiB to 221–225, the catch-up indexing as fast (pages it misses come from the OS's page cache).
 */
export const WRITER_CACHE_KIB = 8192;

/**
 * Opens (a writer creates) the index database at `path`. A writer that finds another schema
 * version drops everything and sets `rebuilt`. A reader throws IndexUnavailableError when the
 * file is missing or of another version.
 */
export function openIndexDb(
  path: string,
  options: OpenIndexOptions = {},
): { db: DatabaseSync; readonly: boolean; rebuilt: boolean } {
  const readonly = options.readonly ?? false;
  const timeout = options.busyTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(timeout) || timeout < 0) {
    throw new RangeError(`Cannot open search index ${path}: bad busyTimeoutMs ${timeout}`);
  }
  const cacheKiB = options.cacheKiB ?? WRITER_CACHE_KIB;
  if (!Number.isSafeInteger(cacheKiB) || cacheKiB < 1) {
    throw new RangeError(`Cannot open search index ${path}: bad cacheKiB ${cacheKiB}`);
  }
  if (readonly && !existsSync(path)) {
    throw new IndexUnavailableError(path, "missing", "it does not exist");
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: readonly });
  } catch (e) {
    throw new Error(`Cannot open search index ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    // A number we checked above; PRAGMA takes no bound parameters.
    db.exec(`PRAGMA busy_timeout = ${timeout}`);
    if (readonly) {
      const v = storedVersion(db);
      if (v !== SCHEMA_VERSION) {
        const found = v === undefined ? "no schema version" : `schema version ${v}`;
        throw new IndexUnavailableError(
          path,
          "version",
          `found ${found}, this build reads ${SCHEMA_VERSION}`,
        );
      }
      return { db, readonly: true, rebuilt: false };
    }
    db.exec("PRAGMA journal_mode = WAL");
    // Derived data: a crash may lose the last commits, and the feeder re-adds them from the log.
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec(`PRAGMA cache_size = -${cacheKiB}`);
    db.exec("BEGIN IMMEDIATE");
    let rebuilt = false;
    try {
      if (storedVersion(db) !== SCHEMA_VERSION) {
        rebuilt = !isEmpty(db);
        recreate(db);
      }
      // A bulk fill cut short (see `bulkFill`) left them out, or its text unmerged: searches
      // are right without them, but slow.
      endBulkFill(db);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
    return { db, readonly: false, rebuilt };
  } catch (e) {
    db.close();
    if (e instanceof IndexUnavailableError) throw e;
    throw new Error(`Cannot open search index ${path}: ${(e as Error).message}`, { cause: e });
  }
}
