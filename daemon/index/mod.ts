/**
 * The derived search index of the log: a SQLite file in the data directory, rebuildable from the
 * log at any time, that nominates the seqs of a search; the search itself, which reads every
 * event it returns from the log; and the event filter both share with scans of the log.
 */

export {
  EventIndex,
  INDEX_FILE,
  indexPath,
  type IndexRecord,
  IndexUnavailableError,
  type OpenIndexOptions,
} from "./event_index.ts";
export {
  type CompiledFilter,
  compileFilter,
  type EventFilter,
  matchesCompiled,
  matchesFilter,
  MAX_TEXT_TOKENS,
  selectEvents,
} from "./filter.ts";
export type { Attribution } from "./links.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export {
  countMatches,
  searchLog,
  type SearchOptions,
  type SearchSources,
  type SearchStats,
} from "./search.ts";
export type { SeqRange } from "./tally.ts";
