/**
 * Helpers for tests of the store: a temporary data directory that is always removed, sample
 * events, and raw access to segment bytes for tamper and crash tests.
 */

import type { NewEvent } from "../../daemon/event/model.ts";
import { listSegments } from "../../daemon/store/segment_file.ts";
import { storePaths } from "../../daemon/store/store_open.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-test-" });
  try {
    return await fn(dir);
  } finally {
    await makeWritable(dir);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sealed segments are 0444; tests that edit or remove them make them writable first. */
export async function makeWritable(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) await makeWritable(p);
    else if (e.isFile) await Deno.chmod(p, 0o644);
  }
}

/** A small event with varied text, `i` making it unique. */
export function testEvent(i: number, extra: Partial<NewEvent> = {}): NewEvent {
  return {
    ts: 1_750_000_000_000_000 + i * 1_000_001,
    source: "test",
    kind: "session",
    role: ["alice", "bob", "carol"][i % 3]!,
    db: "billing",
    object: `public.t${i % 5}`,
    command: i % 2 ? "SELECT" : "UPDATE",
    statement: `SELECT ${i} FROM public.t${i % 5} WHERE note = 'ünïcødé ${"x".repeat(i % 40)}'`,
    ...extra,
  };
}

/** Paths of the segment files of a data dir, in order. */
export async function segmentPaths(dataDir: string): Promise<string[]> {
  return (await listSegments(storePaths(dataDir).segments)).map((s) => s.path);
}

/** Overwrites bytes of a file at `offset`. */
export async function patchFile(path: string, offset: number, bytes: Uint8Array): Promise<void> {
  await Deno.chmod(path, 0o644);
  const f = await Deno.open(path, { write: true });
  try {
    await f.seek(offset, Deno.SeekMode.Start);
    await f.write(bytes);
  } finally {
    f.close();
  }
}

/** Copies a directory tree (files and folders only). */
export async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}
