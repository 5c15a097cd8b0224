/**
 * `SegmentBuffer`: a buffer reused from segment to segment, grown with headroom by default; lean
 * (the daemon's background verification), the old buffer is let go and collected before a
 * larger one is made, at the size asked.
 */

import { SegmentBuffer } from "../../../daemon/store/segment_file.ts";
import { assert, assertEquals } from "../../support/assert.ts";

Deno.test("SegmentBuffer reuses its memory and grows with headroom", () => {
  const b = new SegmentBuffer();
  const first = b.take(1000);
  assertEquals(first.length, 1000);
  assert(b.take(800).buffer === first.buffer, "a smaller take reuses the memory");
  const grown = b.take(1100);
  assert(grown.buffer !== first.buffer);
  assertEquals(grown.buffer.byteLength, 1250);
  assert(b.take(1200).buffer === grown.buffer, "the headroom takes a segment that grew a little");
});

Deno.test("a lean SegmentBuffer lets the old memory go before it grows, at the size asked", () => {
  const sizes: number[] = [];
  // What the buffer holds when the collection runs: nothing of the old memory.
  const b: SegmentBuffer = new SegmentBuffer({
    lean: () => void sizes.push(b.take(0).buffer.byteLength),
  });
  b.take(1000);
  assertEquals(sizes, [0]);
  assertEquals(b.take(1100).buffer.byteLength, 1100);
  assertEquals(sizes, [0, 0]);
  b.take(900);
  b.take(1100);
  assertEquals(sizes.length, 2, "no collection without growth");
  const shared = new SegmentBuffer({ shared: true, lean: () => {} });
  assert(shared.take(10).buffer instanceof SharedArrayBuffer);
});
