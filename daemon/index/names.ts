/**
 * The index's dictionary of names: every source, kind, database, object, role and folded command
 * is stored once in `names` and referred to by a small integer in `events` and in each secondary
 * index. Those columns repeat a few hundred distinct values over millions of rows, and as text
 * they took most of the index (a `(role, ts)` entry ~27 bytes, the row ~60 more); as integers
 * each takes one or two bytes. Searches compare ids found by value (`filter_sql.ts`), so the
 * semantics stay exact, case-sensitive equality on the stored text.
 *
 * The writer keeps recently used ids in a bounded map so that indexing does not look each one up;
 * ids come from rows of the open transaction, so the map is cleared whenever one is rolled back or
 * the tables are dropped.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Most ids kept in memory: far more than a box has roles, databases and tables. */
const MAX_CACHED = 8192;

/** Looks up, and creates, the ids of names for one writer connection. */
export class NameIds {
  #db: DatabaseSync;
  #cache = new Map<string, number>();
  #insert: StatementSync | null = null;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The id of `value`, created when new; call inside the writer's transaction. */
  id(value: string): number {
    const hit = this.#cache.get(value);
    if (hit !== undefined) return hit;
    // A no-op update makes RETURNING give the id of an existing row too.
    this.#insert ??= this.#db.prepare(
      `INSERT INTO names (value) VALUES (?)
        ON CONFLICT (value) DO UPDATE SET value = excluded.value RETURNING id`,
    );
    const id = Number(this.#insert.get(value)!.id);
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(value, id);
    return id;
  }

  /** The id of `value`, or null when it is absent. */
  idOrNull(value: string | undefined): number | null {
    return value === undefined ? null : this.id(value);
  }

  /** Forgets every id: after a rollback or a reset they may name nothing. */
  forget(): void {
    this.#cache.clear();
    this.#insert = null;
  }
}

/** SQL for the id of a bound value: NULL, which equals nothing, when no row holds it. */
export const NAME_ID = "(SELECT id FROM names WHERE value = ?)";
