/**
 * FrameScanner: the same messages, with the same captured bytes and end offsets, however the
 * stream is cut into chunks, with bodies copied or (`views`) taken as views where they can be;
 * only the captured head of a body is kept; lengths no PostgreSQL peer sends are refused.
 */

import { frameMessage } from "../../../daemon/pgwire/backend_encode.ts";
import { type Frame, FrameScanner } from "../../../daemon/pgwire/frames.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { prng } from "../../support/random.ts";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Frames of `stream` cut at `cuts`, with each frame's end as an offset in the whole stream. */
function scanCut(stream: Uint8Array, cuts: number[], capture: number, views = false) {
  const scanner = new FrameScanner({ capture: () => capture, views });
  const out: { type: number; length: number; body: number[]; end: number }[] = [];
  let base = 0;
  // With views, a frame is read only after the chunk it ends in is gone (its buffer reused, as
  // a lent read's is): a view of an earlier chunk would show the wrong bytes.
  const seen: Frame[] = [];
  for (const [from, to] of cuts.map((c, i) => [i === 0 ? 0 : cuts[i - 1]!, c] as const)) {
    const chunk = stream.slice(from, to);
    scanner.scan(chunk, (f: Frame) => {
      if (views) return seen.push(f);
      out.push({ type: f.type, length: f.length, body: [...f.body], end: base + f.end });
    });
    for (const f of seen.splice(0)) {
      out.push({ type: f.type, length: f.length, body: [...f.body], end: base + f.end });
    }
    chunk.fill(0xee);
    base = to;
  }
  return { frames: out, idle: scanner.idle };
}

Deno.test("FrameScanner.scan() finds the same frames however the stream is cut", () => {
  const seed = Date.now() % 100_000;
  const rand = prng(seed);
  for (let round = 0; round < 200; round++) {
    const messages = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => {
      const body = Uint8Array.from({ length: Math.floor(rand() * 300) }, () => rand() * 256);
      return frameMessage(0x41 + Math.floor(rand() * 26), body);
    });
    const stream = concat(messages);
    const capture = Math.floor(rand() * 400);
    const whole = scanCut(stream, [stream.length], capture);
    const cuts = [
      ...new Set(
        Array.from({ length: Math.floor(rand() * 30) }, () => Math.floor(rand() * stream.length)),
      ),
    ].sort((a, b) => a - b);
    const pieces = scanCut(stream, [...cuts, stream.length], capture);
    assertEquals(pieces.frames, whole.frames, `seed ${seed} round ${round}`);
    const viewed = scanCut(stream, [...cuts, stream.length], capture, true);
    assertEquals(viewed.frames, whole.frames, `views, seed ${seed} round ${round}`);
    assertEquals(whole.frames.length, messages.length);
    assertEquals(pieces.idle, true);
    for (const [i, f] of whole.frames.entries()) {
      assertEquals(f.length, messages[i]!.length - 5);
      assertEquals(f.body, [...messages[i]!.subarray(5, 5 + Math.min(capture, f.length))]);
    }
  }
});

Deno.test("FrameScanner.scan() says where a message began in the chunk, -1 when earlier", () => {
  const a = frameMessage(0x43, new Uint8Array(10));
  const b = frameMessage(0x5a, new Uint8Array([0x49]));
  const stream = concat([a, b]);
  const scanner = new FrameScanner({ capture: () => 0 });
  const seen: [number, number][] = [];
  scanner.scan(stream.subarray(0, 3), (f) => seen.push([f.start, f.end]));
  scanner.scan(stream.subarray(3), (f) => seen.push([f.start, f.end]));
  assertEquals(seen, [[-1, a.length - 3], [a.length - 3, stream.length - 3]]);
  assertEquals(scanner.idle, true);
});

Deno.test("FrameScanner.scan() refuses a length below 4 and what check() refuses", () => {
  const bad = new Uint8Array([0x51, 0, 0, 0, 3]);
  assertThrows(() => new FrameScanner({ capture: () => 0 }).scan(bad, () => {}), {
    instanceOf: SyntaxError,
    message: 'Invalid length 3 of a message of type "Q"',
  });
  const scanner = new FrameScanner({
    capture: () => 0,
    check: (type) => {
      if (type === 0x7a) throw new SyntaxError("no z");
    },
  });
  assertThrows(() => scanner.scan(frameMessage(0x7a, new Uint8Array(0)), () => {}), SyntaxError);
});

Deno.test("FrameScanner with views: a body whole in the chunk is a view of it, else a copy", () => {
  const a = frameMessage(0x51, new Uint8Array([1, 2, 3, 4, 5, 6]));
  const b = frameMessage(0x51, new Uint8Array([7, 8, 9]));
  const stream = concat([a, b]);
  const bodies: Uint8Array[] = [];
  const scanner = new FrameScanner({ capture: () => 100, views: true });
  // `a` whole in the first chunk; `b`'s body cut between the two.
  const first = stream.subarray(0, a.length + 6);
  const second = stream.subarray(a.length + 6);
  scanner.scan(first, (f) => bodies.push(f.body));
  scanner.scan(second, (f) => bodies.push(f.body));
  assertEquals(bodies.map((x) => [...x]), [[1, 2, 3, 4, 5, 6], [7, 8, 9]]);
  assertEquals(bodies[0]!.buffer === stream.buffer, true);
  assertEquals(bodies[0]!.byteOffset, 5);
  assertEquals(bodies[1]!.buffer === stream.buffer, false);
  // Without views every body is the caller's own copy.
  const copies: Uint8Array[] = [];
  new FrameScanner({ capture: () => 100 }).scan(a, (f) => copies.push(f.body));
  assertEquals(copies[0]!.buffer === a.buffer, false);
});
