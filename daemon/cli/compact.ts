/**
 * `vigil compact --data DIR`: stores every sealed segment compressed that is not yet — those
 * sealed before data format 2, or left by a compression a crash cut short. The writer compresses
 * each segment it seals by itself; this is the admin's way to convert an older directory, which
 * is otherwise read as it is. It takes the writer lock, so it runs while `vigil serve` is stopped.
 */

import { print } from "../log.ts";
import { listSegments } from "../store/segment_file.ts";
import { compressSealedSegment } from "../store/compress_file.ts";
import { Store } from "../store/store.ts";
import { storePaths } from "../store/store_open.ts";
import { noRest, parseFlags, required } from "./args.ts";

/** Runs `vigil compact`; returns the exit code. */
export async function compactCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { data: { type: "string" } });
  noRest(rest);
  const data = required(values.data, "data");
  // Opening the store takes the lock, recovers the active segment and leaves it alone.
  const store = await Store.open(data, { checkpointIntervalMs: 0, compressSealed: false });
  let segments = 0;
  let saved = 0;
  try {
    const all = await listSegments(storePaths(data).segments);
    for (const s of all.slice(0, -1)) {
      if (s.compressed) continue;
      saved += await compressSealedSegment(s.path, s.firstSeq);
      segments++;
    }
  } finally {
    await store.close();
  }
  print(`compressed ${segments} sealed segments, ${saved} bytes saved`);
  return 0;
}
