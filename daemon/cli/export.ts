/**
 * `vigil export --data DIR --out DIR [--from T] [--to T]`: writes an air-gapped bundle of the
 * signed log (see daemon/export/bundle.ts). `--from`/`--to` are event times, RFC 3339, `from`
 * inclusive and `to` exclusive; the bundle holds the contiguous run of seqs from the first event
 * in that range to the last, as the Merkle tree needs. Exit 0 written, 1 nothing to export or a
 * damaged store, 2 usage error. Safe while `vigil serve` runs on the same data directory.
 */

import { parseRfc3339Micros } from "../event/time.ts";
import { formatRfc3339Micros } from "../event/time.ts";
import { writeBundle } from "../export/bundle.ts";
import { NothingToExportError } from "../export/plan.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil export`; returns the exit code. */
export async function exportCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    out: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const out = required(values.out, "out");
  const from = timeFlag(values.from, "from");
  const to = timeFlag(values.to, "to");
  if (from !== undefined && to !== undefined && from >= to) {
    throw new UsageError("--from must be before --to");
  }
  try {
    await Deno.stat(`${data}/segments`);
  } catch {
    throw new UsageError(`${data} is not a Vigil data directory (no segments/)`);
  }
  await checkOut(out);
  let summary;
  try {
    summary = await writeBundle(data, out, {
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    });
  } catch (e) {
    if (!(e instanceof NothingToExportError)) throw e;
    print(`nothing exported: ${e.message}`);
    return 1;
  }
  const cp = summary.checkpoint;
  print(
    `exported ${summary.events} events (seq ${summary.firstSeq} to ${summary.lastSeq}) in ` +
      `${summary.files} Parquet file${summary.files === 1 ? "" : "s"}, ${summary.bytes} bytes, ` +
      `to ${summary.dir}; ` +
      `checkpoint of size ${cp.size} signed ${formatRfc3339Micros(cp.ts)} by key ${summary.keyId}` +
      (summary.unsigned
        ? `; ${summary.unsigned} newer events are not signed yet and were left out ` +
          `(export them after the next checkpoint)`
        : ""),
  );
  return 0;
}

function timeFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseRfc3339Micros(value);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

/** A bundle goes to a new or empty directory: never mixed with, or over, other files. */
async function checkOut(out: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(out);
  } catch {
    return;
  }
  if (!info.isDirectory) throw new UsageError(`--out ${out} exists and is not a directory`);
  for await (const _ of Deno.readDir(out)) {
    throw new UsageError(`--out ${out} is not empty; give a new or empty directory`);
  }
}
