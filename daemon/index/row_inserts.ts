/**
 * Multi-row INSERTs into the index's tables, prepared once per table and row count. Each call
 * into node:sqlite costs several µs of binding overhead, which multi-row statements spread over
 * many rows.
 */

import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

/** Rows per INSERT statement. */
const ROWS_PER_INSERT = 64;

/** One table's rows: its columns, values per row and conflict clause (`""`, `"OR IGNORE"`). */
export interface RowShape {
  table: string;
  columns: string;
  width: number;
  or?: "" | "OR IGNORE";
}

function multiRowInsert(shape: RowShape, rows: number): string {
  const tuple = "(" + "?, ".repeat(shape.width - 1) + "?)";
  return `INSERT ${shape.or ?? ""} INTO ${shape.table} (${shape.columns}) VALUES ` +
    Array(rows).fill(tuple).join(", ");
}

/** The prepared INSERTs of one database connection. */
export class RowInserts {
  readonly #db: DatabaseSync;
  readonly #prepared = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Inserts rows given as one flat argument list, `shape.width` values a row. */
  insert(shape: RowShape, args: SQLInputValue[]): void {
    const step = ROWS_PER_INSERT * shape.width;
    for (let i = 0; i < args.length; i += step) {
      const chunk = i === 0 && args.length <= step ? args : args.slice(i, i + step);
      const rows = chunk.length / shape.width;
      const key = shape.table + ":" + rows;
      let stmt = this.#prepared.get(key);
      if (stmt === undefined) {
        stmt = this.#db.prepare(multiRowInsert(shape, rows));
        this.#prepared.set(key, stmt);
      }
      stmt.run(...chunk);
    }
  }

  /** Forgets every prepared statement: the tables were dropped and made again. */
  clear(): void {
    this.#prepared.clear();
  }
}
