/**
 * The derived search index of the log: a SQLite file in the data directory, rebuildable from the
 * log at any time, and the event filter it shares with in-memory scans of the log's tail.
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
export { SCHEMA_VERSION } from "./schema.ts";
