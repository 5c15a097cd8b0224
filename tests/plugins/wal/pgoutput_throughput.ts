/**
 * Decode throughput of the pgoutput decoder (and of decoder + transaction assembler) over
 * ~100k real insert messages that a throwaway PostgreSQL 15 generates: ten transactions of
 * `INSERT … SELECT generate_series()`, taken from the slot in chunks with `upto_nchanges`.
 * Prints one JSON object a line: `bench`, `value`, `unit` (best of the rounds), as `vigil bench`
 * does. No server is needed once the messages are saved with `--save FILE` and read back with
 * `--load FILE` (length-prefixed payloads).
 *
 * Run from the repository root: `deno run --allow-all tests/plugins/wal/pgoutput_throughput.ts`.
 */

import { ChangeAssembler } from "../../../plugins/wal/changes.ts";
import { decodePayload, decodePgOutput } from "../../../plugins/wal/pgoutput.ts";
import { startPostgres } from "../../support/postgres.ts";
import { createSlot, hexBytes, PUBLICATION, SLOT } from "./_workload.ts";

const ROWS = 100_000;
const ROUNDS = 7;

async function generate(): Promise<Uint8Array[]> {
  await using pg = await startPostgres({ pgauditLog: "none" });
  await pg.sql(`CREATE TABLE bench (id int8 PRIMARY KEY, amount numeric(12,2), note text,
    at timestamptz, payload jsonb)`);
  await createSlot(pg);
  for (let from = 1; from <= ROWS; from += ROWS / 10) {
    await pg.sql(`INSERT INTO bench SELECT g, g * 1.25, 'note ' || g, now() + g * interval '1 us',
      jsonb_build_object('n', g, 'tag', 'x') FROM generate_series(${from}, ${
      from + ROWS / 10 - 1
    }) g`);
  }
  const out: Uint8Array[] = [];
  for (;;) {
    const text = await pg.sql(`SELECT encode(data, 'hex') FROM pg_logical_slot_get_binary_changes(
      '${SLOT}', NULL, 20000, 'proto_version', '1', 'publication_names', '${PUBLICATION}')`);
    if (text === "") return out;
    for (const hex of text.split("\n")) out.push(hexBytes(hex));
  }
}

async function load(path: string): Promise<Uint8Array[]> {
  const all = await Deno.readFile(path);
  const view = new DataView(all.buffer);
  const out: Uint8Array[] = [];
  for (let at = 0; at < all.length; at += 4 + view.getUint32(at)) {
    out.push(all.subarray(at + 4, at + 4 + view.getUint32(at)));
  }
  return out;
}

async function save(path: string, payloads: Uint8Array[]): Promise<void> {
  const size = payloads.reduce((n, p) => n + 4 + p.length, 0);
  const all = new Uint8Array(size);
  const view = new DataView(all.buffer);
  let at = 0;
  for (const p of payloads) {
    view.setUint32(at, p.length);
    all.set(p, at + 4);
    at += 4 + p.length;
  }
  await Deno.writeFile(path, all);
}

function best(fn: () => void): number {
  let fastest = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    fn();
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return fastest / 1000;
}

const args = Deno.args;
const loadPath = args[args.indexOf("--load") + 1];
const payloads = args.includes("--load") && loadPath ? await load(loadPath) : await generate();
const savePath = args[args.indexOf("--save") + 1];
if (args.includes("--save") && savePath) await save(savePath, payloads);

const bytes = payloads.reduce((n, p) => n + p.length, 0);
const inserts = payloads.filter((p) => p[0] === 0x49).length;
let sink = 0;
const decode = best(() => {
  for (const p of payloads) sink += decodePgOutput(p, 0n).tag.length;
});
const assemble = best(() => {
  const asm = new ChangeAssembler({ source: "bench", db: "postgres" });
  for (const p of payloads) {
    asm.push(decodePayload({ lsn: 0n, data: p }));
    if (asm.pending >= 5000) sink += asm.take()!.events.length;
  }
  sink += asm.take()?.events.length ?? 0;
});
if (sink < 0) console.log(sink); // Keeps the work observable.
const line = (bench: string, value: number, unit: string) =>
  console.log(JSON.stringify({ bench, value: Math.round(value), unit }));
line("pgoutput_messages", payloads.length, "messages");
line("pgoutput_insert_messages", inserts, "messages");
line("pgoutput_bytes", bytes, "bytes");
line("pgoutput_decode", payloads.length / decode, "messages/s");
line("pgoutput_decode_bytes", bytes / decode / 1e6, "MB/s");
line("pgoutput_decode_assemble", inserts / assemble, "events/s");
