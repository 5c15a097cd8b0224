/**
 * The layout of the search index database, and how to create, recognise and drop it.
 *
 * The index is derived from the log, so it has no migrations: when the stored
 * `schema_version` differs from {@link SCHEMA_VERSION} the writer drops every table and the
 * feeder re-indexes from the start of the log. Bump the version on any change below.
 */

import type { DatabaseSync } from "node:sqlite";

/** Version of the layout below; stored in `meta`. */
export const SCHEMA_VERSION = 7;

/** log2 of the seqs a `tally` row counts: 16384 events a block. */
export const TALLY_SHIFT = 14;
/** Seqs a `tally` row counts. */
export const TALLY_BLOCK = 2 ** TALLY_SHIFT;

/**
 * The B-tree indexes that make searches fast, not right: a search without them walks `events`
 * and gives the same answer. `vigil reindex` drops them while it fills the index and builds each
 * once at the end (sorting once is cheaper than millions of inserts in key order each); a writer
 * creates any that are missing when it opens the index, so a rebuild cut short only costs speed
 * until then.
 *
 * Each is on one selective filter column alone, so an entry is that id and the rowid (`seq`):
 * about 10 bytes, where one that also held `ts` took 17-19. A time window is narrowed by the
 * zones' times instead (see `zones` below): it becomes a few seq ranges,
 * which these indexes (and the table, by rowid) seek directly. Optional columns get partial
 * indexes (`= ?` implies NOT NULL, so the planner still uses them). `source`, `kind` and `db`
 * have none: a box has few of each, so one value selects a large share and a walk by `seq`
 * within the time's seq ranges finds a page as soon, while every index costs its bytes and a
 * B-tree insert per event.
 */
const SECONDARY_INDEXES = [
  `CREATE INDEX IF NOT EXISTS events_role ON events (role) WHERE role IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS events_object ON events (object) WHERE object IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS events_command ON events (command_key)
    WHERE command_key IS NOT NULL`,
];
const SECONDARY_NAMES = SECONDARY_INDEXES.map((sql) => /EXISTS (\w+)/.exec(sql)![1]!);

/**
 * FTS5's `automerge` while the index is written row by row (its default): merging segments a
 * little with every transaction keeps text lookups to a few segments.
 */
const FTS_AUTOMERGE = 4;
/**
 * FTS5's `crisismerge` (its default): however `automerge` is set, once a level holds this many
 * segments they are merged into one of the next level.
 */
const FTS_CRISISMERGE = 16;
/**
 * `crisismerge` during a bulk fill. With FTS5's 16, a fill's segments (one a transaction) were
 * merged level by level as they came — 10M events of the scale mix, ~950 transactions: their
 * terms written out three times, the full-text inserts 48.7 s of the writer's thread against 24.7
 * with this — and then all merged once more at the end. At 1,000, a fill of up to ~1,000
 * transactions is merged once, at the end (a larger one twice), and a merge holds at most 1,000
 * segments' cursors (a page each, a few MiB).
 */
const FTS_BULK_CRISISMERGE = 1000;

/**
 * Ends a bulk fill, or one cut short (a writer calls it on opening): creates the secondary indexes
 * that are missing and, when the fill left the full-text table unmerged, merges it into one
 * segment once and lets it merge as it goes again.
 */
export function endBulkFill(db: DatabaseSync): void {
  for (const sql of SECONDARY_INDEXES) db.exec(sql);
  const merge = db.prepare(`SELECT v FROM events_text_config WHERE k = 'automerge'`).get()?.v;
  if (merge !== undefined && Number(merge) !== FTS_AUTOMERGE) {
    db.exec(`INSERT INTO events_text (events_text) VALUES ('optimize')`);
    ftsSetting(db, "crisismerge", FTS_CRISISMERGE);
    ftsSetting(db, "automerge", FTS_AUTOMERGE);
  }
}

/**
 * Starts a bulk fill: drops the secondary indexes (see {@link SECONDARY_INDEXES}) and stops the
 * full-text table's merging, each transaction's segment merged once at the end instead of a
 * little at every commit (a fifth of the fill's time) or level by level as they pile up (see
 * {@link FTS_BULK_CRISISMERGE}).
 */
export function startBulkFill(db: DatabaseSync): void {
  for (const name of SECONDARY_NAMES) db.exec(`DROP INDEX IF EXISTS ${name}`);
  ftsSetting(db, "automerge", 0);
  ftsSetting(db, "crisismerge", FTS_BULK_CRISISMERGE);
}

/** Sets one of the full-text table's merge settings (kept in its `_config` table). */
function ftsSetting(db: DatabaseSync, name: "automerge" | "crisismerge", value: number): void {
  // Our own name and integer, spelled out: FTS5 takes no bound parameter in this special INSERT.
  db.exec(`INSERT INTO events_text (events_text, rank) VALUES ('${name}', ${Math.trunc(value)})`);
}

/**
 * `events` holds what search needs and nothing else: `seq`, the event time and the filter
 * columns. No copy of the event, nor of its text: whatever is shown of an event is read from the
 * log by seq (`store/seq_reader.ts`), so the index can only nominate events, never say what they
 * hold. The name columns hold ids of `names` (see `names.ts`): `command_key` that of the command
 * folded by `foldText` (see `text.ts` for why folding happens in JavaScript).
 *
 * `events_text` is a contentless FTS5 table (`content = ''`) of the events' folded searchable
 * text, a row per span of neighbouring events (`text_spans.ts`), `rowid` the span's first seq: it
 * keeps the trigram index and not the text, which is half the bytes of an index that stored the
 * text, and a span's trigrams once, not once an event, which halves it again. So a text condition in SQL only narrows (every trigram of every
 * token is in the event's text), and tokens shorter than a trigram do not narrow at all: the
 * search reads the candidates from the log and tests the text there (`search.ts`), which decides.
 * `contentless_delete = 1` lets retention delete the rows of deleted events by rowid (it needs
 * `columnsize`, a few bytes a span). The table is written only by `add()` (in the same
 * transaction as the row). Statements are attacker-controlled, which is why queries are built from
 * quoted trigrams (see `ftsQuery`) and bound as one parameter.
 *
 * The trigram tokenizer gives substring semantics that `String.includes` mirrors; the text is
 * folded already, hence `case_sensitive 1`. `detail = none` drops positions, which substring
 * lookup by single trigrams does not need, roughly halving insert cost and size; phrase queries
 * are then unavailable, so `ftsQuery` ANDs single trigrams, a superset that the log narrows to
 * the exact answer.
 *
 * Secondary indexes: see {@link SECONDARY_INDEXES}.
 *
 * `zones` keeps the least and greatest `ts` of each 1,024 seqs: a search with a time window reads
 * only the seq ranges whose times overlap it (`zones.ts`).
 *
 * `tally` counts, per block of {@link TALLY_BLOCK} seqs, the rows `add()` wrote, and `meta`
 * keeps `first_seq`, the lowest seq added since the index was created — or, once retention
 * deleted the log's head, the log's new start (`dropBefore()` deletes the rows below it). Triggers count a row
 * deleted (`rows` goes down) or edited (`edits` goes up), which the feeder never does, so a
 * block whose count disagrees with the seqs it should hold, or that was edited, is one the index
 * cannot vouch for: searches read that block's events from the log instead (`search.ts`). This
 * catches rows changed or removed by hand; someone who also rewrites the tally (or narrows a
 * zone) can still hide an event from a search through the index until the periodic re-check
 * (`recheck.ts`) finds it, but never change what is shown of one.
 */
const CREATE = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE TABLE names (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)`,
  `CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    source INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    db INTEGER,
    object INTEGER,
    role INTEGER,
    command_key INTEGER
  )`,
  ...SECONDARY_INDEXES,
  `CREATE VIRTUAL TABLE events_text USING fts5(
    body, content = '', contentless_delete = 1,
    tokenize = 'trigram case_sensitive 1', detail = none
  )`,
  // Attribution (`links.ts`): row change → statement message, statement message → pgAudit line.
  `CREATE TABLE attribution (seq INTEGER PRIMARY KEY, stmt INTEGER NOT NULL)`,
  `CREATE INDEX attribution_stmt ON attribution (stmt)`,
  `CREATE TABLE logged (stmt INTEGER PRIMARY KEY, line INTEGER NOT NULL)`,
  // The attributed filter fields (filter.ts) of each event, and of each row change those of
  // its statement, keyed by block of seqs and hash of field and value, and the seq's offset in its
  // block (`field_keys.ts`).
  `CREATE TABLE fields (
    block INTEGER NOT NULL, key INTEGER NOT NULL, off INTEGER NOT NULL,
    PRIMARY KEY (block, key, off)
  ) WITHOUT ROWID`,
  // pgAudit's row count (`rows`) of the events that have one, for `minRows`.
  `CREATE TABLE row_counts (seq INTEGER PRIMARY KEY, rows INTEGER NOT NULL)`,
  `CREATE INDEX row_counts_rows ON row_counts (rows)`,
  `CREATE TABLE tally (
    block INTEGER PRIMARY KEY,
    rows INTEGER NOT NULL,
    edits INTEGER NOT NULL DEFAULT 0
  )`,
  // The least and greatest event time of each zone of seqs (`zones.ts`).
  `CREATE TABLE zones (zone INTEGER PRIMARY KEY, min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL)`,
  `CREATE INDEX zones_min_ts ON zones (min_ts)`,
  `CREATE TRIGGER events_deleted AFTER DELETE ON events BEGIN
    UPDATE tally SET rows = rows - 1 WHERE block = old.seq >> ${TALLY_SHIFT};
  END`,
  `CREATE TRIGGER events_edited AFTER UPDATE ON events BEGIN
    INSERT INTO tally (block, rows, edits) VALUES (old.seq >> ${TALLY_SHIFT}, 0, 1)
      ON CONFLICT (block) DO UPDATE SET edits = edits + 1;
    INSERT INTO tally (block, rows, edits) VALUES (new.seq >> ${TALLY_SHIFT}, 0, 1)
      ON CONFLICT (block) DO UPDATE SET edits = edits + 1;
  END`,
];

/** The stored schema version, or undefined when the database holds no index (yet). */
export function storedVersion(db: DatabaseSync): number | undefined {
  const hasMeta = db.prepare(
    `SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'meta'`,
  ).get();
  if (hasMeta === undefined) return undefined;
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get();
  return row === undefined ? undefined : Number(row.value);
}

/** Whether the database holds no tables at all (a new file). */
export function isEmpty(db: DatabaseSync): boolean {
  return db.prepare(`SELECT 1 AS x FROM sqlite_schema LIMIT 1`).get() === undefined;
}

function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"';
}

/**
 * Drops every table (virtual tables first, which takes their shadow tables with them) and
 * creates the current layout. Call inside a transaction so readers see old or new, never half.
 */
export function recreate(db: DatabaseSync): void {
  const list = (sql: string): string[] => db.prepare(sql).all().map((r) => String(r.name));
  // Names come from sqlite_schema, not from users; quoting still keeps odd names valid.
  for (const name of list(`SELECT name FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL%'`)) {
    db.exec(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
  }
  for (const name of list(`SELECT name FROM sqlite_schema WHERE type = 'view'`)) {
    db.exec(`DROP VIEW IF EXISTS ${quoteIdent(name)}`);
  }
  const tables = list(
    `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
  );
  for (const name of tables) db.exec(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
  for (const sql of CREATE) db.exec(sql);
  db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`)
    .run(String(SCHEMA_VERSION));
}
