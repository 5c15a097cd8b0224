/**
 * ConnChannel over a real loopback connection: `read()` gives chunks the caller may keep,
 * `lend()` views of one read buffer that the next read reuses, and `write()` sends all of a
 * buffer however many writes the socket takes for it.
 */

import { ConnChannel } from "../../../plugins/proxy/channel.ts";
import { assertEquals } from "../../support/assert.ts";

/** A connected pair on loopback: the channel's end and the peer's. */
async function pair(): Promise<{ channel: ConnChannel; peer: Deno.TcpConn } & AsyncDisposable> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [accepted, peer] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  ]);
  listener.close();
  const channel = new ConnChannel(accepted);
  return {
    channel,
    peer,
    [Symbol.asyncDispose]: () => {
      channel.close();
      try {
        peer.close();
      } catch { /* closed by the test */ }
      return Promise.resolve();
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads with `next` until `want` bytes came; the chunks as text. */
async function chunks(next: () => Promise<Uint8Array | null>, want: number): Promise<string[]> {
  const out: string[] = [];
  let got = 0;
  while (got < want) {
    const c = await next();
    if (c === null) break;
    out.push(dec.decode(c));
    got += c.length;
  }
  return out;
}

Deno.test("ConnChannel.read() gives chunks that stay as they were after the next read", async () => {
  await using p = await pair();
  await p.peer.write(enc.encode("first"));
  const first = await p.channel.read();
  await p.peer.write(enc.encode("second"));
  const rest = await chunks(() => p.channel.read(), 6);
  assertEquals(dec.decode(first!), "first");
  assertEquals(rest.join(""), "second");
});

Deno.test("ConnChannel.lend() gives views of one buffer, which the next read reuses", async () => {
  await using p = await pair();
  await p.peer.write(enc.encode("first"));
  const first = await p.channel.lend();
  assertEquals(dec.decode(first!), "first");
  await p.peer.write(enc.encode("SECOND"));
  const second = await p.channel.lend();
  assertEquals(second!.buffer === first!.buffer, true);
  assertEquals(dec.decode(first!), dec.decode(second!.subarray(0, 5)), "overwritten");
  // Bytes put back are lent as they are.
  p.channel.unread(enc.encode("back"));
  assertEquals(dec.decode((await p.channel.lend())!), "back");
});

Deno.test("ConnChannel.write() sends all of a buffer larger than the socket takes at once", async () => {
  await using p = await pair();
  const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i % 251);
  const sent = p.channel.write(big);
  const got = new Uint8Array(big.length);
  let n = 0;
  const buf = new Uint8Array(256 * 1024);
  while (n < big.length) {
    const r = await p.peer.read(buf);
    if (r === null) break;
    got.set(buf.subarray(0, r), n);
    n += r;
  }
  await sent;
  assertEquals(n, big.length);
  assertEquals(got.every((b, i) => b === i % 251), true);
  await p.channel.write(new Uint8Array(0));
});
