/**
 * A Parquet encoder Worker that fails on purpose, for `parquet_pipe_test.ts`: it runs the real
 * Worker and throws once it has been sent `FAIL_AT` row groups (0: at the start).
 */

import "../../../daemon/export/parquet_worker.ts";
import type { PipeRequest } from "../../../daemon/export/parquet_worker.ts";

declare const self: { onmessage: ((e: MessageEvent<PipeRequest>) => void) | null };

const failAt = Number(new URL(import.meta.url).searchParams.get("fail_at") ?? 0);
const real = self.onmessage!;
let batches = 0;
self.onmessage = (e) => {
  if (e.data.op === "batch") batches++;
  if (batches >= failAt) throw new Error(`encoder gave up after ${batches} row groups`);
  real(e);
};
