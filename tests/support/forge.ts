/**
 * What an attacker with write access to the box but without the signing key can do: rewrite
 * records and recompute every CRC and chain hash after them, so that only the signed
 * checkpoints can tell. Used by the tamper tests.
 */

import { crc32c } from "../../daemon/store/crc32c.ts";
import {
  CHAIN_SIZE,
  decodeHeader,
  encodeHeader,
  HEADER_SIZE,
  scanFrames,
} from "../../daemon/store/frame.ts";
import { sha256 } from "../../daemon/store/sha256.ts";
import { segmentPaths } from "./store.ts";

/** One frame's place in a segment. */
export interface FramePlace {
  segment: string;
  offset: number;
  payload: number;
  length: number;
  type: number;
}

/** Every frame of every segment, in order. */
export async function framesOf(dataDir: string): Promise<FramePlace[]> {
  const out: FramePlace[] = [];
  for (const path of await segmentPaths(dataDir)) {
    const buf = await Deno.readFile(path);
    scanFrames(buf, HEADER_SIZE, buf.length, (f) => out.push({ segment: path, ...f }));
  }
  return out;
}

/**
 * Re-chains the whole log: recomputes every event's chain hash, every position record's chain
 * head, every segment header's previous chain, and every CRC, in place.
 */
export async function rechain(dataDir: string): Promise<void> {
  let chain: Uint8Array = new Uint8Array(32);
  for (const path of await segmentPaths(dataDir)) {
    await Deno.chmod(path, 0o644);
    const buf = await Deno.readFile(path);
    const h = decodeHeader(buf.subarray(0, HEADER_SIZE));
    buf.set(encodeHeader({ ...h, prevChain: chain }), 0);
    const dv = new DataView(buf.buffer);
    let off = HEADER_SIZE;
    while (off < buf.length) {
      const len = dv.getUint32(off);
      const p = off + 8;
      if (buf[p + CHAIN_SIZE] === 0) {
        const leaf = sha256(buf.subarray(p + CHAIN_SIZE, p + len));
        chain = sha256(new Uint8Array([...chain, ...leaf]));
      }
      buf.set(chain, p);
      dv.setUint32(off + 4, crc32c(buf, p, p + len));
      off = p + len;
    }
    await Deno.writeFile(path, buf);
  }
}

/** Replaces a frame's body, keeping its length field right, and fixes its CRC. */
export async function rewriteBody(f: FramePlace, body: string): Promise<void> {
  const buf = await Deno.readFile(f.segment);
  const bytes = new TextEncoder().encode(body);
  const len = CHAIN_SIZE + 1 + bytes.length;
  const frame = new Uint8Array(8 + len);
  frame.set(buf.subarray(f.payload, f.payload + CHAIN_SIZE + 1), 8);
  frame.set(bytes, 8 + CHAIN_SIZE + 1);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, len);
  dv.setUint32(4, crc32c(frame, 8, frame.length));
  const out = new Uint8Array([
    ...buf.subarray(0, f.offset),
    ...frame,
    ...buf.subarray(f.payload + f.length),
  ]);
  await Deno.chmod(f.segment, 0o644);
  await Deno.writeFile(f.segment, out);
}
