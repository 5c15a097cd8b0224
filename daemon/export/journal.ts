/**
 * The export journal, `export-journal.jsonl` in the data directory: one JSON object a line,
 * appended and fdatasynced before the step it records is acted on, so that an export killed at
 * any instant resumes where it stopped — no gap, no second upload. Per target and run: `plan`
 * (the seqs and every file with its hashes), `multipart` (an upload id, before its first part),
 * `part`, `uploaded` (the target's checksum, after it was confirmed), `done`.
 *
 * Why a JSON-lines file and not SQLite: the records are few (a handful per file uploaded), only
 * ever appended, and read whole on start; an append plus fdatasync is the cheapest durable write
 * there is; a torn last line (a crash mid-write) is recognised and dropped, as the checkpoint
 * file does; and an operator or auditor can read it with `jq`. One exporter at a time holds the
 * file's lock, so two `export-run`s on one data directory cannot interleave.
 */

/** A file of a run, as the plan names it. */
export interface PlannedFile {
  /** The sink key, relative to the target's prefix. */
  key: string;
  /** Path relative to the run's staging directory. */
  path: string;
  bytes: number;
  sha256: string;
  md5: string;
}

/** One journal line. */
export type JournalRecord =
  | {
    op: "plan";
    target: string;
    run: string;
    first_seq: number;
    end_seq: number;
    files: PlannedFile[];
    ts: number;
  }
  | { op: "multipart"; target: string; run: string; key: string; upload_id: string }
  | {
    op: "part";
    target: string;
    run: string;
    key: string;
    upload_id: string;
    part: number;
    etag: string;
  }
  | {
    op: "uploaded";
    target: string;
    run: string;
    key: string;
    bytes: number;
    etag: string;
    version_id?: string;
  }
  | { op: "done"; target: string; run: string; end_seq: number; ts: number };

/** A run of a target as the journal tells it. */
export interface RunState {
  run: string;
  firstSeq: number;
  endSeq: number;
  files: PlannedFile[];
  /** Key → the ETag it was confirmed with. */
  uploaded: Map<string, string>;
  /** Key → the id of a multipart upload begun and not recorded as uploaded. */
  multipart: Map<string, string>;
  done: boolean;
}

export const JOURNAL_FILE = "export-journal.jsonl";

/** The open journal of one data directory. */
export class ExportJournal {
  readonly path: string;
  #file: Deno.FsFile;
  #records: JournalRecord[];

  private constructor(path: string, file: Deno.FsFile, records: JournalRecord[]) {
    this.path = path;
    this.#file = file;
    this.#records = records;
  }

  /**
   * Opens (creating) the journal and takes its lock; a torn last line is cut off. Throws when
   * another exporter holds it (after `lockTimeoutMs`).
   */
  static async open(
    dataDir: string,
    opts: { lockTimeoutMs?: number } = {},
  ): Promise<ExportJournal> {
    const path = `${dataDir}/${JOURNAL_FILE}`;
    const file = await Deno.open(path, { read: true, append: true, create: true, mode: 0o600 });
    try {
      await lockWithin(file, opts.lockTimeoutMs ?? 2000, path);
      const { records, goodBytes, total } = await readRecords(path);
      if (goodBytes < total) await file.truncate(goodBytes);
      return new ExportJournal(path, file, records);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Every record, oldest first. */
  get records(): readonly JournalRecord[] {
    return this.#records;
  }

  /** Appends a record and makes it durable before returning. */
  async append(rec: JournalRecord): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(rec) + "\n");
    for (let at = 0; at < bytes.length;) at += await this.#file.write(bytes.subarray(at));
    await this.#file.syncData();
    this.#records.push(rec);
  }

  /** The runs of `target`, in plan order. */
  runs(target: string): RunState[] {
    return runsOf(this.#records, target);
  }

  /** Releases the lock and closes the file. */
  close(): void {
    this.#file.close();
  }
}

/** Runs of `target` folded from records (also for readers that do not hold the lock). */
export function runsOf(records: readonly JournalRecord[], target: string): RunState[] {
  const runs = new Map<string, RunState>();
  for (const r of records) {
    if (r.target !== target) continue;
    if (r.op === "plan") {
      runs.set(r.run, {
        run: r.run,
        firstSeq: r.first_seq,
        endSeq: r.end_seq,
        files: r.files,
        uploaded: new Map(),
        multipart: new Map(),
        done: false,
      });
      continue;
    }
    const run = runs.get(r.run);
    if (!run) continue;
    if (r.op === "multipart") run.multipart.set(r.key, r.upload_id);
    else if (r.op === "uploaded") {
      run.uploaded.set(r.key, r.etag);
      run.multipart.delete(r.key);
    } else if (r.op === "done") run.done = true;
  }
  return [...runs.values()];
}

/** Seq up to which `target` has a finished export (the end of its last done run), or 0. */
export function exportedEnd(records: readonly JournalRecord[], target: string): number {
  let end = 0;
  for (const r of runsOf(records, target)) if (r.done) end = Math.max(end, r.endSeq);
  return end;
}

/** Reads the journal without locking it; a missing file has no records. */
export async function readJournal(dataDir: string): Promise<JournalRecord[]> {
  try {
    return (await readRecords(`${dataDir}/${JOURNAL_FILE}`)).records;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

async function readRecords(
  path: string,
): Promise<{ records: JournalRecord[]; goodBytes: number; total: number }> {
  const bytes = await Deno.readFile(path);
  const end = bytes.lastIndexOf(0x0a) + 1; // a line without its newline was cut by a crash
  const text = new TextDecoder().decode(bytes.subarray(0, end));
  const records: JournalRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line === "") return;
    try {
      records.push(JSON.parse(line));
    } catch {
      throw new SyntaxError(`Cannot read ${path} line ${i + 1}: not JSON`);
    }
  });
  return { records, goodBytes: end, total: bytes.length };
}

/** Polls a non-blocking lock: a blocked `lock()` could not be given up on a timeout. */
async function lockWithin(file: Deno.FsFile, ms: number, path: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await file.tryLock(true))) {
    if (performance.now() >= deadline) {
      throw new Error(`Cannot export: another exporter holds ${path}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
