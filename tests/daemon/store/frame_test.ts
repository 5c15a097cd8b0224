import { crc32c } from "../../../daemon/store/crc32c.ts";
import {
  decodeHeader,
  encodeHeader,
  FRAME_EVENT,
  parseSegmentName,
  peekSeq,
  scanFrames,
  segmentName,
} from "../../../daemon/store/frame.ts";
import { sha256, sha256Backend } from "../../../daemon/store/sha256.ts";
import { sha256JsInto } from "../../../daemon/store/sha256_js.ts";
import { createHash } from "node:crypto";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const enc = new TextEncoder();

Deno.test("crc32c() matches the RFC 3720 check values", () => {
  assertEquals(crc32c(enc.encode("123456789")), 0xe3069283);
  assertEquals(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assertEquals(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
  assertEquals(crc32c(inc), 0x46dd794e);
});

Deno.test("crc32c() over a range equals crc32c() of the slice, for every alignment", () => {
  const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 255);
  for (let s = 0; s < 20; s++) {
    for (let e = s; e <= 100; e += 7) assertEquals(crc32c(data, s, e), crc32c(data.slice(s, e)));
  }
});

Deno.test("sha256() and the JavaScript fallback agree with node:crypto at block edges", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 300, 4097]) {
    const d = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    const want = createHash("sha256").update(d).digest("hex");
    const js = new Uint8Array(32);
    sha256JsInto(d, js, 0);
    assertEquals(Buffer.from(js).toString("hex"), want, `js, ${n} bytes`);
    assertEquals(Buffer.from(sha256(d)).toString("hex"), want, `${sha256Backend}, ${n} bytes`);
  }
});

Deno.test("encodeHeader() round-trips and decodeHeader() rejects a flipped byte", () => {
  const h = { firstSeq: 123456789, prevChain: sha256(enc.encode("x")), createdUs: 1_700_000_000 };
  const buf = encodeHeader(h);
  assertEquals(decodeHeader(buf), h);
  for (let i = 0; i < buf.length; i++) {
    const bad = buf.slice();
    bad[i]! ^= 0x10;
    assertThrows(() => decodeHeader(bad), SyntaxError);
  }
});

function frame(type: number, body: string): Uint8Array {
  const b = enc.encode(body);
  const out = new Uint8Array(8 + 33 + b.length);
  out[8 + 32] = type;
  out.set(b, 8 + 33);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 33 + b.length);
  dv.setUint32(4, crc32c(out, 8, out.length));
  return out;
}

Deno.test("scanFrames() reports a cut-off frame as partial and a bad CRC as bad", () => {
  const a = frame(FRAME_EVENT, '{"seq":0}');
  const b = frame(FRAME_EVENT, '{"seq":1}');
  const buf = new Uint8Array([...a, ...b]);
  const seen: number[] = [];
  assertEquals(scanFrames(buf, 0, buf.length, (f) => seen.push(f.offset)).kind, "end");
  assertEquals(seen, [0, a.length]);
  for (let cut = a.length + 1; cut < buf.length; cut++) {
    const stop = scanFrames(buf, 0, cut, () => {});
    assertEquals(stop.kind, "partial", `cut at ${cut}`);
  }
  const bad = buf.slice();
  bad[a.length - 1]! ^= 1;
  const stop = scanFrames(bad, 0, bad.length, () => {});
  assert(stop.kind === "bad" && stop.offset === 0 && /CRC/.test(stop.reason));
});

Deno.test("peekSeq() reads the seq of canonical JSON and refuses anything else", () => {
  const at = (s: string): number => peekSeq(enc.encode(s), 0, s.length);
  assertEquals(at('{"seq":0,"ts":1}'), 0);
  assertEquals(at('{"seq":9007199254740991,"ts":1}'), 9007199254740991);
  assertEquals(at('{"seq":01,"ts":1}'), -1);
  assertEquals(at('{"ts":1,"seq":3}'), -1);
  assertEquals(at('{"seq":,"ts":1}'), -1);
});

Deno.test("segmentName() and parseSegmentName() round-trip and ignore other files", () => {
  assertEquals(parseSegmentName(segmentName(42)), 42);
  assertEquals(segmentName(7), "seg-00000000000000000007.vseg");
  assertEquals(parseSegmentName("seg-7.vseg"), null);
  assertEquals(parseSegmentName("notes.txt"), null);
});
