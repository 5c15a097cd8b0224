/**
 * The version of the event layout that exported files name: in the Arrow schema's metadata
 * (`arrow.ts`) and in each Parquet file's own (`export/parquet_meta.ts`). Apart from `arrow.ts`
 * so that naming it does not load Arrow: the Parquet encoder Worker names it and needs no more.
 */

/**
 * Schema metadata key and value naming this layout, for readers of exported files. Version 2
 * added the optional columns `rows` and `token` at the end; files of version 1 lack them, and
 * readers (verify-bundle among them) take a missing optional column as nulls.
 */
export const EVENT_SCHEMA_VERSION_KEY = "vigil.event_schema";
export const EVENT_SCHEMA_VERSION = "2";
