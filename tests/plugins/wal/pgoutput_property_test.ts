/**
 * Random input never crashes the pgoutput decoder or the assembler: random bytes, every
 * truncation of every recorded message and random byte flips of them either decode or fail
 * with `SyntaxError` (or `RangeError`), and each call returns — every loop in the decoder is
 * bounded by the bytes left. The generator is seeded; a failure prints the seed and the input.
 */
import { ChangeAssembler } from "../../../plugins/wal/changes.ts";
import { decodePayload, decodePgOutput } from "../../../plugins/wal/pgoutput.ts";
import { AssertionError } from "../../support/assert.ts";
import { hexBytes, parseChangeRow } from "./_workload.ts";
import { prng as rng } from "../../support/random.ts";

const SEED = Number(Deno.env.get("VIGIL_PROPERTY_SEED") ?? Date.now() % 2 ** 31);
const TAGS = [..."BCORYIUDTMSEcAZb"].map((c) => c.charCodeAt(0));

async function recorded(): Promise<Uint8Array[]> {
  const url = new URL("../../testdata/pgoutput/workload.tsv", import.meta.url);
  const text = await Deno.readTextFile(url);
  return text.split("\n").filter((l) => l !== "").map((l) => hexBytes(parseChangeRow(l).hex));
}

function tryDecode(data: Uint8Array, what: string): void {
  try {
    decodePgOutput(data, 0x16b3748n);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) return;
    const hex = [...data.subarray(0, 64)].map((b) => b.toString(16).padStart(2, "0")).join("");
    throw new AssertionError(`seed ${SEED}, ${what} (${data.length} bytes, ${hex}…): ${error}`);
  }
}

Deno.test("decodePgOutput() fails only with SyntaxError or RangeError on random bytes", () => {
  const random = rng(SEED);
  for (let i = 0; i < 20_000; i++) {
    const data = new Uint8Array(Math.floor(random() * 64));
    for (let j = 0; j < data.length; j++) data[j] = Math.floor(random() * 256);
    // Mostly a real tag, so that the bodies are exercised, not just the tag check.
    if (data.length > 0 && random() < 0.9) data[0] = TAGS[Math.floor(random() * TAGS.length)]!;
    tryDecode(data, `random input ${i}`);
  }
});

Deno.test("decodePgOutput() fails cleanly on every truncation of real messages", async () => {
  for (const [i, msg] of (await recorded()).entries()) {
    // Long messages: every cut near the start and the end, and a stride through the middle.
    const step = msg.length > 600 ? 97 : 1;
    for (let n = 0; n < msg.length; n += n < 300 || n > msg.length - 300 ? 1 : step) {
      tryDecode(msg.subarray(0, n), `message ${i} cut to ${n}`);
    }
  }
});

Deno.test("decodePgOutput() fails cleanly on random byte changes to real messages", async () => {
  const random = rng(SEED + 1);
  const messages = await recorded();
  for (let i = 0; i < 20_000; i++) {
    const msg = messages[Math.floor(random() * messages.length)]!.slice();
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) {
      // Headers hold the lengths and counts: change them more often than the text.
      const at = Math.floor(random() ** 3 * msg.length);
      msg[at] = random() < 0.5 ? Math.floor(random() * 256) : msg[at]! ^ (1 << (i % 8));
    }
    tryDecode(msg, `change ${i}`);
  }
});

Deno.test("ChangeAssembler.push() fails only with SyntaxError on a damaged stream", async () => {
  const random = rng(SEED + 2);
  const messages = await recorded();
  for (let round = 0; round < 200; round++) {
    const asm = new ChangeAssembler({ source: "wal", db: "postgres", holdLimit: 3 });
    for (const [i, original] of messages.entries()) {
      const msg = original.slice();
      if (random() < 0.1) msg[Math.floor(random() ** 2 * msg.length)] = random() * 256;
      if (random() < 0.02) continue; // A message lost.
      try {
        asm.push(decodePayload({ lsn: BigInt(i), data: msg }));
      } catch (error) {
        if (!(error instanceof SyntaxError)) {
          throw new AssertionError(`seed ${SEED}, round ${round}, message ${i}: ${error}`);
        }
        asm.reset();
      }
      asm.take();
    }
  }
});
