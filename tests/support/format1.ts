/**
 * A data directory as data format 1 wrote it, made from a closed store of today's format: the
 * same records without commit records, and `FORMAT` saying 1. For the tests that a store of an
 * older release opens, verifies and serves after the upgrade.
 */

import { FORMAT_FILE } from "../../daemon/store/format.ts";
import { FRAME_COMMIT, HEADER_SIZE, scanFrames } from "../../daemon/store/frame.ts";
import { segmentPaths } from "./store.ts";

/** Rewrites the closed store in `dir` as format 1 wrote it. */
export async function toFormat1(dir: string): Promise<void> {
  for (const path of await segmentPaths(dir)) {
    const mode = (await Deno.stat(path)).mode! & 0o777;
    await Deno.chmod(path, 0o644);
    const buf = await Deno.readFile(path);
    const kept: Uint8Array[] = [buf.subarray(0, HEADER_SIZE)];
    scanFrames(buf, HEADER_SIZE, buf.length, (f) => {
      if (f.type !== FRAME_COMMIT) kept.push(buf.subarray(f.offset, f.payload + f.length));
    });
    await Deno.writeFile(path, new Uint8Array(kept.flatMap((k) => [...k])));
    await Deno.chmod(path, mode);
  }
  await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, "vigil-data 1\n");
}
