/**
 * Parse throughput of the pgAudit log decoders over ~100 MB logs made by repeating the real
 * records of the recorded fixtures (`tests/testdata/pgaudit/`), written to a temp dir and removed
 * afterwards. Two mixes per format: `mix` is every record of the fixture as recorded (their
 * sizes vary from a 100-byte connection line to a 25 kB statement), `audit` only the pgAudit
 * lines under 1 kB, the bulk of a busy log. For each it times three ways, best of the rounds:
 * `core`, the synchronous decoder over the file in memory; `records`, the file read through the
 * decoder's `TransformStream` (what a stream of one record per chunk costs shows in the gap);
 * `events`, the stream plus field naming and `logEvent`. It prints one JSON object a line:
 * `bench`, `value`, `unit`.
 * No assertions: numbers for the README and the issue, not a test.
 *
 * Run from the repository root:
 * `deno run --allow-all tests/plugins/pgaudit/pgaudit_throughput.ts [csvlog|jsonlog|stderr]…`.
 */

import { CsvLogStream, type CsvRecord } from "../../../plugins/pgaudit/csvlog.ts";
import { logEvent } from "../../../plugins/pgaudit/events.ts";
import { JsonLogStream, type JsonRecord } from "../../../plugins/pgaudit/jsonlog.ts";
import type { LogRecord } from "../../../plugins/pgaudit/record.ts";
import { StderrLogStream } from "../../../plugins/pgaudit/stderr.ts";
import { decodeChunks, decoder, type Format, FORMATS, named, PREFIX } from "./_expect.ts";

const TARGET_BYTES = 100 * 1024 * 1024;
const ROUNDS = 3;
const DIR = new URL("../../testdata/pgaudit/", import.meta.url);
const FILES: Record<Format, string> = {
  csvlog: "postgresql.csv",
  jsonlog: "postgresql.jsonlog",
  stderr: "postgresql.log",
};

/** Writes `records` over and over to `path` until it holds about TARGET_BYTES. */
async function generate(path: string, pieces: Uint8Array[]): Promise<number> {
  const unit = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    unit.set(p, at);
    at += p.length;
  }
  // One write of ~4 MB at a time.
  const reps = Math.max(1, Math.floor((4 << 20) / unit.length));
  const block = new Uint8Array(unit.length * reps);
  for (let i = 0; i < reps; i++) block.set(unit, i * unit.length);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = 0;
  let records = 0;
  while (written < TARGET_BYTES) {
    await file.write(block);
    written += block.length;
    records += reps * pieces.length;
  }
  file.close();
  return records;
}

function stream(format: Format): TransformStream<Uint8Array, CsvRecord | JsonRecord | LogRecord> {
  if (format === "csvlog") return new CsvLogStream();
  if (format === "jsonlog") return new JsonLogStream();
  return new StderrLogStream({ logLinePrefix: PREFIX });
}

type Mode = "records" | "events" | "core";

/** Seconds to read `path` in `mode`, and the records seen. */
async function run(format: Format, path: string, mode: Mode): Promise<[number, number]> {
  let n = 0;
  let kept = 0;
  const take = (r: CsvRecord | JsonRecord | LogRecord): void => {
    n++;
    if (mode !== "events") return;
    if (logEvent(named(format, r), { source: "bench" }) !== undefined) kept++;
  };
  if (mode === "core") {
    // The synchronous decoder over the file in memory, in 64 kB pieces: no stream, no disk.
    const bytes = await Deno.readFile(path);
    const started = performance.now();
    const d = decoder(format);
    for (let at = 0; at < bytes.length; at += 65536) d.push(bytes.subarray(at, at + 65536), take);
    d.end(take);
    return [(performance.now() - started) / 1000, n];
  }
  const file = await Deno.open(path);
  const started = performance.now();
  for await (const r of file.readable.pipeThrough(stream(format))) take(r);
  const seconds = (performance.now() - started) / 1000;
  if (mode === "events" && kept === 0) throw new Error("no events");
  return [seconds, n];
}

function report(bench: string, value: number, unit: string): void {
  console.log(JSON.stringify({ bench, value: Math.round(value * 10) / 10, unit }));
}

const formats = Deno.args.length > 0 ? Deno.args as Format[] : [...FORMATS];
const dir = await Deno.makeTempDir({ prefix: "vigil-pgaudit-bench-" });
try {
  for (const format of formats) {
    const input = await Deno.readFile(new URL(FILES[format], DIR));
    const records = decodeChunks(format, [input]);
    const audit = records.filter((r) => {
      const m = named(format, r).message;
      return m?.startsWith("AUDIT: ") === true && r.offset - r.start < 1024;
    });
    for (const [mix, chosen] of [["mix", records], ["audit", audit]] as const) {
      const path = `${dir}/${format}-${mix}`;
      const count = await generate(path, chosen.map((r) => input.subarray(r.start, r.offset)));
      const size = (await Deno.stat(path)).size;
      for (const mode of ["core", "records", "events"] as const) {
        let best = Infinity;
        for (let round = 0; round < ROUNDS; round++) {
          const [seconds, n] = await run(format, path, mode);
          if (n !== count) throw new Error(`${format} ${mix}: ${n} records, expected ${count}`);
          best = Math.min(best, seconds);
        }
        const what = `pgaudit_${format}_${mix}_${mode}`;
        report(`${what}_mb_per_s`, size / 1e6 / best, "MB/s");
        report(`${what}_per_s`, count / best, "records/s");
      }
      console.log(JSON.stringify({ format, mix, bytes: size, records: count }));
      await Deno.remove(path);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
