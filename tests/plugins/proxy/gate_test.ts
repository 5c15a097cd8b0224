/**
 * ResultGate in enforce mode on hand-made conversations: nothing of a chunk that holds a
 * statement's result reaches the client before the statement's event is stored, the chunk then
 * goes in one write (a BindComplete before the result included), a chunk without a result goes
 * at once, and a refused event drops what was held.
 */

import { frameMessage } from "../../../daemon/pgwire/backend_encode.ts";
import { FrameScanner } from "../../../daemon/pgwire/frames.ts";
import type { NewEvent } from "../../../daemon/event/model.ts";
import { SessionEvents } from "../../../plugins/proxy/events.ts";
import { ResultGate } from "../../../plugins/proxy/gate.ts";
import { clientCapture, serverCapture } from "../../../plugins/proxy/capture.ts";
import { SessionTracker } from "../../../plugins/proxy/tracker.ts";
import { assertEquals, assertRejects } from "../../support/assert.ts";
import { bind, concat, execute, parse, sync } from "./_client.ts";

const enc = new TextEncoder();
const msg = (type: string, body = ""): Uint8Array =>
  frameMessage(type.charCodeAt(0), enc.encode(body));

/** A tracker and an enforce-mode gate whose stores wait for `store()` to settle them. */
function session(): {
  client: (...m: Uint8Array[]) => void;
  server: (...m: Uint8Array[]) => Promise<void>;
  writes: Uint8Array[];
  recorded: NewEvent[][];
  store: (ok: boolean) => void;
} {
  const t = new SessionTracker(
    new SessionEvents("s", { sessionId: "x", clientAddr: "127.0.0.1", clientPort: 1, tls: false }),
    { recordBytes: 1000, keptBytes: 10_000 },
  );
  const c = new FrameScanner({ capture: (ty, l) => clientCapture(ty, l, 1000) });
  const s = new FrameScanner({ capture: (ty, l) => serverCapture(ty, l) });
  const writes: Uint8Array[] = [];
  const recorded: NewEvent[][] = [];
  const waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const gate = new ResultGate({
    write: (bytes) => {
      writes.push(bytes.slice());
      return Promise.resolve();
    },
    record: (events) => {
      recorded.push(events);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    enforce: true,
  });
  return {
    client: (...m) => c.scan(concat(...m), (f) => t.fromClient(f)),
    server: (...m) => {
      const chunk = concat(...m);
      t.beginChunk();
      s.scan(chunk, (f) => t.fromServer(f));
      return gate.pass(chunk, 0, t);
    },
    writes,
    recorded,
    store: (ok) => {
      const w = waiting.shift()!;
      if (ok) w.resolve();
      else w.reject(new Error("store refused"));
    },
  };
}

/** Lets the gate's pending awaits run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("ResultGate: a prepared statement's BindComplete waits with its result, then one write", async () => {
  const s = session();
  s.client(bind("", "", []), execute(), sync());
  const chunk = concat(msg("2"), msg("C", "UPDATE 1\0"), msg("Z", "T"));
  const passing = s.server(msg("2"), msg("C", "UPDATE 1\0"), msg("Z", "T"));
  await settle();
  assertEquals(s.recorded.length, 1, "the statement's event went to the store");
  assertEquals(s.writes.length, 0, "nothing reached the client before its event was stored");
  s.store(true);
  await passing;
  assertEquals(s.writes.length, 1);
  assertEquals(s.writes[0], chunk);
});

Deno.test("ResultGate: a chunk without a result goes at once", async () => {
  const s = session();
  s.client(parse("p", "SELECT 1"), sync());
  await s.server(msg("1"), msg("Z", "I"));
  assertEquals(s.recorded.length, 0);
  assertEquals(s.writes.length, 1);
});

Deno.test("ResultGate: an event the store refused takes the held bytes with it", async () => {
  const s = session();
  s.client(bind("", "", []), execute(), sync());
  const passing = s.server(msg("2"), msg("C", "UPDATE 1\0"), msg("Z", "T"));
  await settle();
  s.store(false);
  await assertRejects(() => passing);
  assertEquals(s.writes.length, 0);
});
