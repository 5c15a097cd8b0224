/**
 * SessionTracker on hand-made conversations: a statement's event waits for the transaction
 * state while the server owes a ReadyForQuery, whichever chunk it arrives in; without a Sync
 * queued it does not wait and carries the state its outcome implies; an error in a pipeline skips the queue to the Sync; statements and
 * portals are kept within their byte budget, and a portal's parameters outlive the chunk its Bind
 * came in.
 */

import { frameMessage } from "../../../daemon/pgwire/backend_encode.ts";
import { FrameScanner } from "../../../daemon/pgwire/frames.ts";
import { SessionEvents } from "../../../plugins/proxy/events.ts";
import { KeptMap } from "../../../plugins/proxy/kept.ts";
import { clientCapture, serverCapture } from "../../../plugins/proxy/capture.ts";
import { SessionTracker } from "../../../plugins/proxy/tracker.ts";
import { assertEquals } from "../../support/assert.ts";
import { bind, concat, execute, parse, query, sync, text } from "./_client.ts";

const enc = new TextEncoder();
const msg = (type: string, body: string | Uint8Array = new Uint8Array(0)): Uint8Array =>
  frameMessage(type.charCodeAt(0), typeof body === "string" ? enc.encode(body) : body);
const complete = (tag: string) => msg("C", tag + "\0");
const ready = (status: string) => msg("Z", status);
const error = (code: string, text: string) => msg("E", `SERROR\0C${code}\0M${text}\0\0`);

function tracker(): {
  t: SessionTracker;
  client: (...m: Uint8Array[]) => void;
  server: (...m: Uint8Array[]) => void;
} {
  const t = new SessionTracker(
    new SessionEvents("s", { sessionId: "x", clientAddr: "127.0.0.1", clientPort: 1, tls: false }),
    { recordBytes: 1000, keptBytes: 10_000 },
  );
  const c = new FrameScanner({ capture: (ty, l) => clientCapture(ty, l, 1000) });
  const s = new FrameScanner({ capture: (ty, l) => serverCapture(ty, l) });
  return {
    t,
    client: (...m) => c.scan(concat(...m), (f) => t.fromClient(f)),
    server: (...m) => {
      t.beginChunk();
      s.scan(concat(...m), (f) => t.fromServer(f));
    },
  };
}

Deno.test("SessionTracker: an event waits for the ReadyForQuery in a later chunk", () => {
  const { t, client, server } = tracker();
  client(query("BEGIN"));
  server(complete("BEGIN"));
  assertEquals(t.owesReady, true);
  assertEquals(t.take(false), [], "held for the transaction state");
  assertEquals(t.waiting, 1);
  server(ready("T"));
  const [ev] = t.take(false);
  assertEquals([ev?.command, ev?.context?.tx_status], ["BEGIN", "T"]);
  assertEquals(t.owesReady, false);
});

Deno.test("SessionTracker: without a Sync queued, the server owes nothing and nothing waits", () => {
  const { t, client, server } = tracker();
  client(parse("", "SELECT 1"), bind("", "", []), execute()); // then Flush, no Sync yet
  server(msg("1"), msg("2"), msg("D", new Uint8Array([0, 1, 0, 0, 0, 1, 0x31])));
  assertEquals(t.resultOpen, true);
  server(complete("SELECT 1"));
  assertEquals(t.owesReady, false);
  const [ev] = t.take(true);
  assertEquals([ev?.command, ev?.context?.rows, ev?.context?.tx_status], ["SELECT", 1, "I"]);
  assertEquals(t.resultOpen, false);
});

Deno.test("SessionTracker: a pipeline without a Sync carries the state its outcomes imply", () => {
  const { t, client, server } = tracker();
  const run = (sql: string) => client(parse("", sql), bind("", "", []), execute());
  const state = (): unknown[] => t.take(true).map((e) => [e.command, e.context?.tx_status]);
  client(query("BEGIN"));
  server(complete("BEGIN"), ready("T"));
  assertEquals(state(), [["BEGIN", "T"]]);
  run("INSERT INTO t VALUES (1)"); // no Sync yet: the server owes no ReadyForQuery
  server(msg("1"), msg("2"), complete("INSERT 0 1"));
  assertEquals(state(), [["INSERT", "T"]], "still in the transaction the server said");
  run("SAVEPOINT a");
  run("SELECT 1/0");
  server(msg("1"), msg("2"), complete("SAVEPOINT"), msg("1"), msg("2"));
  server(error("22012", "division by zero"));
  assertEquals(state(), [["SAVEPOINT", "T"], ["SELECT", "E"]], "an error fails the transaction");
  client(sync());
  server(ready("E"));
  run("ROLLBACK TO SAVEPOINT a");
  server(msg("1"), msg("2"), complete("ROLLBACK"));
  run("COMMIT");
  server(msg("1"), msg("2"), complete("COMMIT"));
  assertEquals(state(), [["ROLLBACK", "T"], ["COMMIT", "I"]]);
  run("BEGIN");
  run("SELECT 1/0"); // the server skips the rest up to the Sync
  run("SELECT 2");
  server(msg("1"), msg("2"), complete("BEGIN"), msg("1"), msg("2"), error("22012", "by zero"));
  assertEquals(state(), [["BEGIN", "T"], ["SELECT", "E"]]);
  client(sync());
  server(ready("E"));
  client(query("ROLLBACK"));
  server(complete("ROLLBACK"), ready("I"));
  run("SELECT 1/0"); // an implicit transaction: its error ends it
  server(msg("1"), msg("2"), error("22012", "by zero"));
  assertEquals(state(), [["ROLLBACK", "I"], ["SELECT", "I"]]);
  client(sync());
  server(ready("I"));
  client(parse("", "SELECT 1"), bind("", "", []), execute(), sync());
  server(msg("1"), msg("2"), complete("SELECT 1"));
  assertEquals(t.take(false), [], "a Sync is queued: the event waits for the server's word");
  server(ready("T")); // whatever the server says wins over what the outcome implies
  assertEquals(t.take(false).map((e) => e.context?.tx_status), ["T"]);
});

Deno.test("SessionTracker: an error skips the pipeline to its Sync", () => {
  const { t, client, server } = tracker();
  client(
    parse("a", "SELECT $1::int", [23]),
    bind("", "a", [text("x")]),
    execute(),
    parse("", "SELECT 2"),
    bind("", "", []),
    execute(),
    sync(),
    query("SELECT 3"),
  );
  server(msg("1"), error("22P02", "invalid input syntax for type integer"), ready("I"));
  server(msg("T", new Uint8Array([0, 0])), complete("SELECT 1"), ready("I"));
  const [bad, third] = t.take(false);
  assertEquals([bad?.command, bad?.sqlstate, bad?.params], ["SELECT", "22P02", ["x"]]);
  assertEquals(bad?.statement, "SELECT $1::int");
  assertEquals([third?.statement, third?.context?.protocol], ["SELECT 3", "simple"]);
  assertEquals(t.pending, 0);
});

Deno.test("KeptMap forgets the oldest entries past its budget, never the newest", () => {
  const m = new KeptMap<string>(100);
  m.set("a", "A", 40);
  m.set("b", "B", 40);
  m.set("c", "C", 40);
  assertEquals([m.get("a"), m.get("b"), m.get("c")], [undefined, "B", "C"]);
  m.set("huge", "H", 500);
  assertEquals([m.get("b"), m.get("c"), m.get("huge")], [undefined, undefined, "H"]);
});

Deno.test("SessionTracker keeps record_bytes of UTF-8, cut between characters", () => {
  const { t, client, server } = tracker();
  client(query("SELECT 'héllo wörld'"), query(`SELECT '${"é".repeat(600)}'`));
  server(complete("SELECT 1"), ready("I"), complete("SELECT 1"), ready("I"));
  const [short, long] = t.take(false);
  assertEquals(short?.statement, "SELECT 'héllo wörld'");
  assertEquals(short?.context?.statement_truncated, undefined);
  assertEquals(enc.encode(long!.statement!).length, 1000); // "SELECT '" is 8 bytes, é is 2
  assertEquals(long?.statement, `SELECT '${"é".repeat(496)}`);
  assertEquals(long?.context?.statement_bytes, 8 + 1200 + 1);
});

Deno.test("SessionTracker keeps a portal's parameters when the Bind was a view of a reused chunk", () => {
  const t = new SessionTracker(
    new SessionEvents("s", { sessionId: "x", clientAddr: "127.0.0.1", clientPort: 1, tls: false }),
    { recordBytes: 1000, keptBytes: 10_000 },
  );
  // As the session scans: bodies are views of a lent chunk, whose buffer the next read refills.
  const c = new FrameScanner({ capture: (ty, l) => clientCapture(ty, l, 1000), views: true });
  const s = new FrameScanner({ capture: (ty, l) => serverCapture(ty, l), views: true });
  const chunk = concat(
    parse("", "SELECT $1::text"),
    bind("", "", [text("kept")]),
    execute(),
    sync(),
  );
  t.beginClientChunk();
  c.scan(chunk, (f) => t.fromClient(f));
  chunk.fill(0x21);
  t.beginChunk();
  s.scan(concat(msg("1"), msg("2"), complete("SELECT 1"), ready("I")), (f) => t.fromServer(f));
  const [ev] = t.take(false);
  assertEquals([ev?.statement, ev?.params], ["SELECT $1::text", ["kept"]]);
});
