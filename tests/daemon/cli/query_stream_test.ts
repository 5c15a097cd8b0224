/**
 * `vigil query` streams: without `--limit` it prints every match, and its memory does not follow
 * the size of what it prints. A store whose matches print as hundreds of MB is queried through a
 * pipe read slowly (so a query that buffered its output would hold it), through the index and
 * by scanning the log, and the child's peak RSS (VmHWM from /proc, not time) stays within a
 * small fraction of its output above that of a query printing 256 events: four times the output
 * does not take anywhere near four times the memory.
 */

import { attachIndex } from "../../../daemon/index/feed.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { spawnVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const EVENTS = 60_000;
/** A row image of this many bytes in each event: ~250 MB of output in all. */
const ROW_BYTES = 4096;
const MiB = 1024 * 1024;

async function bigStore(data: string): Promise<void> {
  const store = await Store.open(data, { checkpointIntervalMs: 0 });
  try {
    for (let i = 0; i < EVENTS; i += 500) {
      const events = Array.from({ length: 500 }, (_, k) =>
        testEvent(i + k, {
          kind: "row_change",
          new_row: { id: i + k, blob: String(i + k).padEnd(ROW_BYTES, "x") },
        }));
      await store.append({ source: "s", events });
    }
    const feed = await attachIndex(store);
    await feed.drain();
    await feed.close();
  } finally {
    await store.close();
  }
}

/** The peak RSS of a process so far, bytes; undefined once it is gone. */
async function peakRss(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Runs `vigil query ARGS`, reading its stdout a small chunk at a time with a pause between
 * reads, and sampling its peak RSS as it goes. The child cannot end before the last pipe buffer
 * is read, so the last sample is (all but) its peak over the whole run.
 */
async function slowQuery(
  args: string[],
): Promise<{ code: number; bytes: number; lines: number; lastSeq: number; peak: number }> {
  const child = spawnVigil(["query", ...args]);
  await child.stdin.close();
  const stderr = new Response(child.stderr).text();
  let bytes = 0, lines = 0, peak = 0, tail = "";
  const reader = child.stdout.getReader({ mode: "byob" });
  let buf = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read(buf);
      if (done || value === undefined) break;
      bytes += value.length;
      for (const b of value) if (b === 10) lines++;
      tail = (tail + decoder.decode(value, { stream: true })).slice(-2 * ROW_BYTES - 1024);
      buf = new Uint8Array(value.buffer);
      peak = Math.max(peak, (await peakRss(child.pid)) ?? 0);
      // A slow reader: the child's writes block on the full pipe meanwhile.
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    reader.releaseLock();
  }
  const { code } = await child.status;
  const lastLine = tail.trimEnd().split("\n").pop() ?? "{}";
  assertEquals(code, 0, await stderr);
  return { code, bytes, lines, lastSeq: JSON.parse(lastLine).seq as number, peak };
}

Deno.test("vigil query streams every match in memory that does not follow its output", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await bigStore(data);
    // The reference: a query whose output (~1 MiB) still fills the pipe, so it is sampled alive.
    const base = await slowQuery(["--data", data, "--limit", "256"]);
    assertEquals(base.lines, 256);
    assert(base.peak > 0, "the peak RSS was read from /proc");
    const runs = async (name: string, args: string[]): Promise<void> => {
      const quarter = await slowQuery([...args, "--limit", String(EVENTS / 4)]);
      const all = await slowQuery(args);
      assertEquals([all.lines, all.lastSeq], [EVENTS, EVENTS - 1], "every match, no --limit");
      assert(all.bytes > EVENTS * ROW_BYTES, `${all.bytes} bytes printed`);
      const grewQuarter = quarter.peak - base.peak, grewAll = all.peak - base.peak;
      console.log(
        `query via ${name}: peak RSS ${mib(base.peak)} MiB printing 256 events, ` +
          `${mib(quarter.peak)} MiB printing ${mib(quarter.bytes)} MiB, ` +
          `${mib(all.peak)} MiB printing ${mib(all.bytes)} MiB`,
      );
      // Holding the output would make four times the output cost about four times the memory;
      // streaming costs a few batches and the garbage collector's slack, whatever the output.
      assert(
        grewAll < 2 * grewQuarter + 16 * MiB,
        `via ${name}: RSS grew ${mib(grewQuarter)} MiB for a quarter of the output and ` +
          `${mib(grewAll)} MiB for all of it`,
      );
    };
    await runs("the index", ["--data", data]);
    // No index: the log is scanned instead, and streams the same way.
    await Deno.remove(`${data}/index.sqlite`);
    await runs("a log scan", ["--data", data, "--kind", "row_change"]);
  });
});

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(0);
}
