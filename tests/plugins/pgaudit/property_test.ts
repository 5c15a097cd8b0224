/**
 * Random input against the three log decoders, on the recorded real logs: any chunking gives
 * the same records; random bytes never crash a decoder or the event mapping and every byte comes
 * out in exactly one record; garbage (random bytes, torn copies of real records) between records
 * never costs a whole record after it; a cut-off end is held back, then reported, never dropped.
 * The generator is seeded (`VIGIL_PROPERTY_SEED`); a failure names the seed.
 */

import { logEvent } from "../../../plugins/pgaudit/events.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import {
  type AnyRecord,
  assertTiles,
  decodeChunks,
  decoder,
  type Format,
  FORMATS,
  named,
} from "./_expect.ts";
import { prng as rng } from "../../support/random.ts";

const SEED = Number(Deno.env.get("VIGIL_PROPERTY_SEED") ?? Date.now() % 2 ** 31);
const DIR = new URL("../../testdata/pgaudit/", import.meta.url);
const FILES: Record<Format, string> = {
  csvlog: "postgresql.csv",
  jsonlog: "postgresql.jsonlog",
  stderr: "postgresql.log",
};

const fixtures = new Map<Format, Uint8Array>();
for (const f of FORMATS) fixtures.set(f, await Deno.readFile(new URL(FILES[f], DIR)));

/** Cuts `input` into chunks of random sizes: single bytes, small and large pieces. */
function split(input: Uint8Array, random: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < input.length;) {
    const r = random();
    const size = r < 0.2
      ? 1
      : r < 0.7
      ? 1 + Math.floor(random() * 64)
      : 1 + Math.floor(random() * 8192);
    out.push(input.subarray(at, at + size));
    at += size;
  }
  return out;
}

const STRUCTURE = [...'"",\n\n\t{}:-. 0123456789\r'].map((c) => c.charCodeAt(0));

/** Random bytes, half of them the ones log formats are built of. */
function randomBytes(random: () => number, max: number): Uint8Array {
  const out = new Uint8Array(Math.floor(random() * max));
  for (let i = 0; i < out.length; i++) {
    out[i] = random() < 0.5
      ? STRUCTURE[Math.floor(random() * STRUCTURE.length)]!
      : Math.floor(random() * 256);
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function context(format: Format, what: string): string {
  return `seed ${SEED}, ${format}: ${what}`;
}

for (const format of FORMATS) {
  const input = fixtures.get(format)!;
  const whole = decodeChunks(format, [input]);

  Deno.test(`${format}: random chunk splits of a real log give the same records`, () => {
    const random = rng(SEED);
    for (let round = 0; round < 40; round++) {
      assertEquals(
        decodeChunks(format, split(input, random)),
        whole,
        context(format, `round ${round}`),
      );
    }
  });

  Deno.test(`${format}: random bytes never crash and every byte comes out once`, () => {
    const random = rng(SEED + 1);
    for (let round = 0; round < 400; round++) {
      const bytes = randomBytes(random, 3000);
      const records = decodeChunks(format, split(bytes, random));
      assertTiles(records, bytes.length, context(format, `round ${round}`));
      for (const r of records) logEvent(named(format, r), { source: "fuzz", clock: () => 0 });
    }
  });

  Deno.test(`${format}: garbage between records never costs a record after it`, () => {
    const random = rng(SEED + 2);
    for (let round = 0; round < 60; round++) {
      const parts: Uint8Array[] = [];
      // An entry right before stderr garbage may take it in (a torn copy of a DETAIL line of
      // the same process is a part line of it): only the records after garbage must survive.
      const mayChange = new Set<number>();
      for (const [i, r] of whole.entries()) {
        parts.push(input.subarray(r.start, r.offset));
        if (random() < 0.15) {
          parts.push(garbage(format, input, random));
          if (format === "stderr") mayChange.add(i);
        }
      }
      const bytes = concat(parts);
      const records = decodeChunks(format, split(bytes, random));
      const what = context(format, `round ${round}`);
      assertTiles(records, bytes.length, what);
      assertSurvive(whole, records, mayChange, what);
    }
  });

  Deno.test(`${format}: a cut-off end is held back, then reported, never dropped`, () => {
    const random = rng(SEED + 3);
    for (let round = 0; round < 100; round++) {
      const cut = Math.floor(random() * (input.length + 1));
      const what = context(format, `cut at ${cut}`);
      const d = decoder(format);
      const before: AnyRecord[] = [];
      for (const chunk of split(input.subarray(0, cut), random)) {
        d.push(chunk, (r) => before.push(r));
      }
      const complete = whole.filter((r) => r.offset <= cut);
      if (format === "stderr") {
        // Its last entry waits for the next line: a part line of it could still come.
        assertEquals(before, whole.slice(0, before.length), what);
        assert(before.length >= complete.length - 1, `${what}: held more than one entry`);
      } else {
        assertEquals(before, complete, what);
      }
      const after: AnyRecord[] = [];
      d.end((r) => after.push(r));
      assertTiles([...before, ...after], cut, what);
      const last = after[after.length - 1];
      if (format !== "stderr" && last !== undefined) {
        assertEquals(last.incomplete, true, what);
        assert(after.every((r) => r.problem !== undefined), `${what}: a cut record read as whole`);
      }
    }
  });
}

/** Garbage to put between records: random bytes, or a torn piece of real log. */
function garbage(format: Format, input: Uint8Array, random: () => number): Uint8Array {
  let g: Uint8Array;
  if (random() < 0.5) g = randomBytes(random, 200);
  else {
    const from = Math.floor(random() * input.length);
    g = input.slice(from, from + Math.floor(random() * 400));
  }
  // Records of jsonlog and stderr start at a line start: garbage ends its own line there. A
  // csvlog record is found again anywhere, so csvlog garbage may run into the next record.
  const needsNewline = format !== "csvlog" || random() < 0.5;
  if (needsNewline && g[g.length - 1] !== 0x0a) g = concat([g, new Uint8Array([0x0a])]);
  if (format === "stderr" && g[0] === 0x09) g[0] = 0x20; // A TAB would continue the entry before.
  return g;
}

/** Every original record (but those in `mayChange`) is in `records`, in order, unchanged. */
function assertSurvive(
  originals: AnyRecord[],
  records: AnyRecord[],
  mayChange: Set<number>,
  what: string,
): void {
  let at = 0;
  for (const [i, want] of originals.entries()) {
    let found = -1;
    for (let k = at; k < records.length; k++) {
      if (records[k]!.problem === undefined && records[k]!.text === want.text) {
        found = k;
        break;
      }
    }
    if (found === -1) {
      assert(
        mayChange.has(i),
        `${what}: record ${i} (${JSON.stringify(want.text.slice(0, 80))}) lost`,
      );
      continue;
    }
    at = found + 1;
  }
}
