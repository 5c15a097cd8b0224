/**
 * The spool's face: a source's write-ahead file of events on their way to the store
 * (`spool.ts`), for a source that must not go on before its events are durable and cannot
 * wait for the store's own commit.
 */

export { EventSpool, SpoolFullError, type SpoolOptions } from "./spool.ts";
export { holdsRecords, orphanSpools } from "./spool_dir.ts";
