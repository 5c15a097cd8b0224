/**
 * MessageReader: messages come out whole however the bytes are split across reads, bodies
 * stay valid after later reads (they are views, never overwritten), large messages straddling
 * chunks arrive intact, and a length no server sends is refused.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../support/assert.ts";
import { type ByteSource, MessageReader } from "../../../daemon/pgwire/reader.ts";

/** A backend message: type, int32 length (counting itself), body. */
function frame(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/** Serves `bytes` in pieces of the given sizes (cycled), at most what the reader has room for. */
function splitSource(bytes: Uint8Array, sizes: number[]): ByteSource & { reads: number } {
  let pos = 0;
  let i = 0;
  return {
    reads: 0,
    read(into: Uint8Array): Promise<number | null> {
      this.reads++;
      if (pos >= bytes.length) return Promise.resolve(null);
      const n = Math.min(sizes[i++ % sizes.length]!, into.length, bytes.length - pos);
      into.set(bytes.subarray(pos, pos + n));
      pos += n;
      return Promise.resolve(n);
    },
  };
}

/** Deterministic pseudo-random bytes, so a failure can be replayed. */
function bodyOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

async function readAll(reader: MessageReader): Promise<{ type: number; payload: Uint8Array }[]> {
  const out = [];
  for (let m = await reader.next(); m; m = await reader.next()) out.push(m);
  return out;
}

Deno.test("MessageReader.next() returns whole messages however reads split the bytes", async () => {
  const lengths = [0, 1, 3, 4, 5, 100, 1000, 40_000, 70_000, 7];
  const bodies = lengths.map((n, i) => bodyOf(n, i + 1));
  const bytes = concat(bodies.map((b, i) => frame(String.fromCharCode(65 + i), b)));
  for (const sizes of [[1], [2, 3, 5], [4096], [bytes.length], [7, 65_536, 1]]) {
    const reader = new MessageReader(splitSource(bytes, sizes), 16_384);
    const messages = await readAll(reader);
    assertEquals(messages.length, bodies.length, `split ${sizes}`);
    messages.forEach((m, i) => {
      assertEquals(m.type, 65 + i);
      assertEquals(m.payload, bodies[i], `body ${i}, split ${sizes}`);
    });
  }
});

Deno.test("MessageReader keeps earlier bodies intact while it reads on (no buffer reuse)", async () => {
  const bodies = Array.from({ length: 200 }, (_, i) => bodyOf(50 + (i * 37) % 3000, i + 7));
  const bytes = concat(bodies.map((b) => frame("d", b)));
  const reader = new MessageReader(splitSource(bytes, [1500, 20, 9000]), 8192);
  const messages = await readAll(reader); // all kept, none copied by the test
  messages.forEach((m, i) => assertEquals(m.payload, bodies[i], `body ${i} changed`));
});

Deno.test("MessageReader.take() returns nothing until a message is complete", async () => {
  const bytes = frame("Z", new Uint8Array([0x49]));
  const reader = new MessageReader(splitSource(bytes, [3, 1, 1, 1]), 64);
  assertEquals(reader.take(), undefined);
  for (const have of [3, 4, 5]) {
    assert(await reader.fill());
    assertEquals(reader.take(), undefined, `${have} of 6 bytes`);
    assertEquals(reader.buffered, have);
  }
  assert(await reader.fill());
  const message = reader.take();
  assertEquals(message?.type, "Z".charCodeAt(0));
  assertEquals(message?.payload, new Uint8Array([0x49]));
  assertEquals(await reader.fill(), false);
  assert(reader.ended);
});

Deno.test("MessageReader refuses a message length no server sends", async () => {
  const bad = new Uint8Array([0x44, 0, 0, 0, 2]);
  const reader = new MessageReader(splitSource(bad, [5]));
  await reader.fill();
  assertThrows(() => reader.take(), { instanceOf: SyntaxError, message: /Invalid length 2/ });
  const huge = new Uint8Array([0x44, 0x7f, 0xff, 0xff, 0xff]);
  const hugeReader = new MessageReader(splitSource(huge, [5]));
  await hugeReader.fill();
  assertThrows(() => hugeReader.take(), SyntaxError);
});

Deno.test("MessageReader.next() reports a message cut off by the end of the stream", async () => {
  const bytes = frame("d", bodyOf(100, 3)).subarray(0, 60);
  const reader = new MessageReader(splitSource(bytes, [30]));
  await assertRejects(() => reader.next(), {
    instanceOf: SyntaxError,
    message: /inside a message/,
  });
});

Deno.test("MessageReader reads large batches with few reads", async () => {
  const bodies = Array.from({ length: 5000 }, (_, i) => bodyOf(120, i));
  const bytes = concat(bodies.map((b) => frame("d", b)));
  const source = splitSource(bytes, [1 << 20]);
  const reader = new MessageReader(source);
  assertEquals((await readAll(reader)).length, 5000);
  assert(source.reads < 10, `${source.reads} reads for ${bytes.length} bytes`);
});
