import { sealFramesJs } from "../../../daemon/store/hash_state.ts";
import { HEADER_SIZE, scanFrames } from "../../../daemon/store/frame.ts";
import { nativeHash } from "../../../daemon/store/native_hash.ts";
import { listSegments, loadSegment } from "../../../daemon/store/segment_file.ts";
import { sha256Backend } from "../../../daemon/store/sha256.ts";
import { Store } from "../../../daemon/store/store.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { checkChunk, checkChunkAsync, checkChunkJs } from "../../../daemon/store/verify_chunk.ts";
import { firstBadCrcJs } from "../../../daemon/store/event_frames.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

Deno.test("the native hashing library is built and loaded (scripts/setup.sh builds it)", () => {
  assert(nativeHash !== null, "native/vigil_hash.c should be built into .tools/native/");
  assertEquals(sha256Backend, "native");
});

async function sampleSegment(dir: string): Promise<{ buf: Uint8Array; prevChain: Uint8Array }> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0, hashWorker: false });
  for (let b = 0; b < 12; b++) {
    const events = [0, 1, 2].map((i) => testEvent(b * 3 + i, { params: ["ü", null] }));
    await store.append({ source: "s", events, position: `p${b}` });
  }
  await store.close();
  const [entry] = await listSegments(storePaths(dir).segments);
  const seg = await loadSegment(entry!);
  return { buf: seg.bytes, prevChain: seg.header.prevChain };
}

Deno.test("native sealFrames() writes the same chains, CRCs and leaves as sealFramesJs()", async () => {
  await withTempDir(async (dir) => {
    const { buf, prevChain } = await sampleSegment(dir);
    const offsets: number[] = [];
    scanFrames(buf, HEADER_SIZE, buf.length, (f) => offsets.push(f.offset));
    const frames = new Int32Array(offsets);
    // Blank the chains and CRCs, then let each implementation fill them in.
    const blank = buf.slice();
    for (const off of offsets) blank.fill(0, off + 4, off + 8 + 32);
    const a = blank.slice(), b = blank.slice();
    const ca = prevChain.slice(), cb = prevChain.slice();
    const la = new Uint8Array(offsets.length * 32), lb = new Uint8Array(offsets.length * 32);
    const na = nativeHash!.sealFrames(a, frames, offsets.length, ca, la);
    const nb = sealFramesJs(b, frames, offsets.length, cb, lb);
    assertEquals([na, nb], [36, 36]);
    assertEquals(a, buf, "native output equals what the store wrote");
    assertEquals(b, buf, "TypeScript output equals what the store wrote");
    assertEquals([ca, la], [cb, lb]);
  });
});

Deno.test("checkChunk() natively, off the thread, and checkChunkJs() agree on every single-byte flip", async () => {
  await withTempDir(async (dir) => {
    const { buf, prevChain } = await sampleSegment(dir);
    const task = { start: HEADER_SIZE, end: buf.length, firstSeq: 0, prevChain, chainsAt: [4, 17] };
    const good = checkChunkJs({ ...task, buf });
    assertEquals(checkChunk({ ...task, buf }), good);
    assertEquals(await checkChunkAsync({ ...task, buf }), good);
    assertEquals(good.chains.length, 2, "chain heads where checkpoints fall");
    for (let at = HEADER_SIZE; at < buf.length; at += 7) {
      for (const bit of [0x01, 0x80]) {
        const bad = buf.slice();
        bad[at]! ^= bit;
        const j = checkChunkJs({ ...task, buf: bad });
        const why = `flip 0x${bit.toString(16)} at offset ${at}`;
        assertEquals(checkChunk({ ...task, buf: bad }), j, why);
        assertEquals(await checkChunkAsync({ ...task, buf: bad }), j, `${why}, off the thread`);
      }
    }
  });
});

Deno.test("native checkCrcs() and firstBadCrcJs() name the same first bad frame on every flip", async () => {
  await withTempDir(async (dir) => {
    const { buf } = await sampleSegment(dir);
    const offsets: number[] = [];
    scanFrames(buf, HEADER_SIZE, buf.length, (f) => offsets.push(f.offset));
    const frames = new Int32Array(offsets);
    const n = frames.length;
    assertEquals([nativeHash!.checkCrcs(buf, frames, n), firstBadCrcJs(buf, frames, n)], [n, n]);
    let found = 0;
    for (let at = HEADER_SIZE; at < buf.length; at += 5) {
      const bad = buf.slice();
      bad[at] = bad[at]! ^ 0x10;
      const native = nativeHash!.checkCrcs(bad, frames, n);
      assertEquals(native, firstBadCrcJs(bad, frames, n), `flip at offset ${at}`);
      if (native < n) found++;
    }
    assert(found > 0, "flips in the frames' CRCs and payloads are found");
  });
});
