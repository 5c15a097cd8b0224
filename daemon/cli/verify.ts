/**
 * `vigil verify --data DIR [--pubkey FILE] [--checkpoint FILE] [--json]`: checks the whole store.
 * Exit 0 intact, 1 damaged (the first bad place is named), 2 usage error.
 *
 * `--checkpoint` takes what was kept off the box: checkpoint lines (a copy of
 * `checkpoints.jsonl`, or the `[store] checkpoint_copy` file), or a bundle (its directory or its
 * `manifest.json`), whose checkpoints are then held against the log. Without one, removing the
 * newest segments together with the checkpoints signed after them leaves nothing on the box
 * that says they existed.
 */

import { type Checkpoint, parseCheckpoint } from "../store/checkpoint.ts";
import { type Manifest, MANIFEST_FILE } from "../export/manifest.ts";
import { parsePublicKey } from "../store/keys.ts";
import { verifyStore } from "../store/verify.ts";
import { describeKeys } from "../store/key_chain.ts";
import { openIndexForRead } from "../index/feed.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";
import { formatRfc3339Micros as formatMicros } from "../event/time.ts";

async function readOrUsage(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Runs `vigil verify`; returns the exit code. */
export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    pubkey: { type: "string" },
    checkpoint: { type: "string" },
    json: { type: "boolean" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  try {
    await Deno.stat(`${data}/segments`);
  } catch {
    throw new UsageError(`${data} is not a Vigil data directory (no segments/)`);
  }
  const publicKey = values.pubkey
    ? parsePublicKey(await readOrUsage(values.pubkey, "public key"))
    : undefined;
  const trusted = values.checkpoint ? await keptCheckpoints(values.checkpoint) : undefined;
  const report = await verifyStore(data, {
    // The CLI's own thread: collecting after each segment keeps its memory flat.
    collect: true,
    ...(publicKey ? { publicKey } : {}),
    ...(trusted ? { trusted } : {}),
  });
  const index = report.ok ? indexProblem(data, report.events) : null;
  if (values.json) {
    print(JSON.stringify({ ...report, index }, (k, v) => k === "publicRaw" ? undefined : v));
  } else if (report.ok) {
    const cp = report.latestCheckpoint;
    const signers = report.keys.length > 1
      ? `keys ${describeKeys(report.keys)}, followed from key ${report.keyId}`
      : `key ${report.keyId}`;
    for (const l of report.keyLosses) {
      print(
        `WARNING: key ${l.oldKeyId} was declared lost at seq ${l.seq} ` +
          `(${formatMicros(l.ts)}); key ${l.newKeyId} took over without its signature, so ` +
          `checkpoints from then on are vouched for by the new key alone`,
      );
    }
    print(
      `OK: ${report.events} events in ${report.segments} segments; chain ${report.chain}; ` +
        `root ${report.root}; ${report.checkpoints} checkpoints signed by ${signers}` +
        (cp ? `, latest covers ${cp.size} events at ${formatMicros(cp.ts)}` : "") +
        (report.unsigned ? `; ${report.unsigned} newer events chained, not yet signed` : "") +
        (report.tailBytes ? `; ${report.tailBytes} bytes of a record still being written` : ""),
    );
    if (index !== null) print(`INDEX: ${index}`);
  } else {
    print(`TAMPERED: ${report.problem!.text}`);
  }
  return report.ok && index === null ? 0 : 1;
}

/**
 * The checkpoints of what `path` names: a bundle directory or its manifest (the checkpoints it
 * was tied to), else a file of checkpoint lines. Throws `UsageError` naming the file and line.
 */
async function keptCheckpoints(path: string): Promise<Checkpoint[]> {
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) file = `${path}/${MANIFEST_FILE}`;
  } catch { /* readOrUsage names it */ }
  const text = await readOrUsage(file, "checkpoint file");
  let whole: unknown = undefined;
  try {
    whole = JSON.parse(text);
  } catch { /* several lines: checkpoint lines */ }
  if (whole !== null && typeof whole === "object" && "checkpoint" in whole) {
    const m = whole as Partial<Manifest>;
    const all = [m.previous_checkpoint, ...(m.inner_checkpoints ?? []), m.checkpoint];
    try {
      return all.filter((c) => c != null).map((c) => parseCheckpoint(JSON.stringify(c)));
    } catch (e) {
      throw new UsageError(`${file}: a checkpoint of the bundle manifest: ${(e as Error).message}`);
    }
  }
  return text.split("\n").filter((l) => l.trim()).map((l, i) => {
    try {
      return parseCheckpoint(l);
    } catch (e) {
      throw new UsageError(`${file} line ${i + 1}: ${(e as Error).message}`);
    }
  });
}

/**
 * What is wrong with the derived search index, or null: rows changed or removed by hand, or rows
 * past the log's end. It cannot change what anyone sees (searches read events from the log and
 * read the seqs it cannot vouch for from the log), but it is a sign that someone edited files on
 * the box, and `vigil serve` rebuilds it at its next start.
 */
function indexProblem(dataDir: string, events: number): string | null {
  const index = openIndexForRead(dataDir);
  if (index === null) return null;
  try {
    if (index.lastSeq() >= events) {
      return `the search index holds seq ${index.lastSeq()}, past the log's end (${events} ` +
        "events); the log is intact. Run vigil reindex, or restart vigil serve, which rebuilds it";
    }
    const ranges = index.untrusted(0, events);
    if (ranges.length === 0) return null;
    const first = ranges.slice(0, 5).map((r) => `${r[0]}–${r[1] - 1}`).join(", ");
    return `search index rows for seqs ${first}${ranges.length > 5 ? ", …" : ""} were changed ` +
      "or removed by hand; the log is intact and searches read those seqs from it. Run vigil " +
      "reindex, or restart vigil serve, which rebuilds it";
  } finally {
    index.close();
  }
}
