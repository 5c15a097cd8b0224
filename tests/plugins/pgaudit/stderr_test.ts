import { type LogRecord } from "../../../plugins/pgaudit/record.ts";
import { StderrLogDecoder, StderrLogStream } from "../../../plugins/pgaudit/stderr.ts";
import { compileLogLinePrefix } from "../../../plugins/pgaudit/stderr_prefix.ts";
import { assertEquals, assertMatch } from "../../support/assert.ts";
import { auditMessage, BUILD_PREFIX, bytes, stderrEntry } from "./_build.ts";
import { assertTiles } from "./_expect.ts";

function decode(chunks: Uint8Array[], prefix = BUILD_PREFIX): LogRecord[] {
  const out: LogRecord[] = [];
  const d = new StderrLogDecoder({ logLinePrefix: prefix, file: "postgresql.log" });
  for (const c of chunks) d.push(c, (r) => out.push(r));
  d.end((r) => out.push(r));
  return out;
}

const STATEMENT = `select 'a,"b"\n\tc\r\n😀'\n`;

Deno.test("compileLogLinePrefix() parses each escape, %q and padding", () => {
  const p = compileLogLinePrefix("%m %t %n [%-6p] %e %x %v %i|%b %Q %% %q%c:%l %u@%d/%a %r %s ");
  const line = "2026-11-23 18:00:00.123 CET 2026-11-23 18:00:00 CET 1795460400.123 [42    ] " +
    "22012 725 3/14 idle in transaction|client backend -7 % 6b048ec8.78d7:3 ada@shop/psql " +
    "10.0.0.1(5432) 2026-11-23 17:00:00 CET ERROR:  division by zero";
  const m = p.match(line)!;
  assertEquals(m.values, {
    m: "2026-11-23 18:00:00.123 CET",
    t: "2026-11-23 18:00:00 CET",
    n: "1795460400.123",
    p: "42",
    e: "22012",
    x: "725",
    v: "3/14",
    i: "idle in transaction",
    b: "client backend",
    Q: "-7",
    c: "6b048ec8.78d7",
    l: "3",
    u: "ada",
    d: "shop",
    a: "psql",
    r: "10.0.0.1(5432)",
    s: "2026-11-23 17:00:00 CET",
  });
  assertEquals([m.severity, m.message], ["ERROR", "division by zero"]);
  // A process without a session stops at %q.
  const post = p.match(
    "2026-11-23 18:00:00.123 CET 2026-11-23 18:00:00 CET 1795460400.123 [42    ] 00000 0  " +
      "|postmaster 0 % LOG:  checkpoint starting",
  )!;
  assertEquals([post.values.c, post.values.b, post.message], [
    undefined,
    "postmaster",
    "checkpoint starting",
  ]);
  assertEquals(p.match("no prefix LOG:  x"), undefined);
});

Deno.test("compileLogLinePrefix() reads the SQLSTATE of a verbose log", () => {
  const p = compileLogLinePrefix("[%p] ", { verbose: true });
  const m = p.match("[1] ERROR:  22012: division by zero")!;
  assertEquals([m.sqlstate, m.message], ["22012", "division by zero"]);
  const log = p.match("[1] LOG:  00000: AUDIT: x")!;
  assertEquals([log.sqlstate, log.message], ["00000", "AUDIT: x"]);
});

Deno.test("StderrLogDecoder undoes the TAB after each newline, byte for byte", () => {
  const text = stderrEntry({ message: auditMessage(STATEMENT) });
  const [r, ...rest] = decode([bytes(text)]);
  assertEquals(rest, []);
  assertEquals(r!.message, auditMessage(STATEMENT));
  assertEquals([r!.start, r!.offset], [0, bytes(text).length]);
  assertEquals([r!.user, r!.db, r!.applicationName, r!.host, r!.pid], [
    "ada",
    "shop",
    "psql",
    "[local]",
    4242,
  ]);
  assertEquals([r!.sessionId, r!.lineNum, r!.time], [
    "6b048ec8.78d7",
    7,
    "2026-11-23 18:00:00.123 UTC",
  ]);
});

Deno.test("StderrLogDecoder joins DETAIL and STATEMENT lines to their entry", () => {
  const err = stderrEntry({
    severity: "ERROR",
    message: "division by zero",
    detail: "two\nlines",
    statement: STATEMENT,
  });
  const input = bytes(err + stderrEntry({ message: "next" }));
  const records = decode([input]);
  assertTiles(records, input.length, "entries");
  assertEquals(records.length, 2);
  assertEquals(
    [records[0]!.severity, records[0]!.message, records[0]!.detail, records[0]!.statement],
    ["ERROR", "division by zero", "two\nlines", STATEMENT],
  );
});

Deno.test("StderrLogDecoder keeps a part line of another process apart", () => {
  const input = bytes(
    stderrEntry({ message: "a", pid: 1 }) +
      stderrEntry({ severity: "ERROR", message: "b", pid: 2, statement: "s" }).split("\n")[1] +
      "\n",
  );
  const records = decode([input]);
  assertEquals(records.length, 2);
  assertMatch(records[1]!.problem!, /STATEMENT line that follows no log entry of its process$/);
});

Deno.test("StderrLogDecoder holds the last entry until the next starts, idle() or the end", () => {
  const entry = stderrEntry({ severity: "ERROR", message: "x", statement: "s" });
  const seen: LogRecord[] = [];
  const d = new StderrLogDecoder({ logLinePrefix: BUILD_PREFIX });
  d.push(bytes(entry), (r) => seen.push(r));
  assertEquals(seen.length, 0, "a STATEMENT line could still follow");
  d.push(bytes("2026"), (r) => seen.push(r));
  d.idle((r) => seen.push(r));
  assertEquals(seen.length, 0, "a line is being written: it may be a part line");
  d.push(bytes(entry.slice(4)), (r) => seen.push(r));
  d.idle((r) => seen.push(r));
  assertEquals(seen.map((r) => r.statement), ["s", "s"]);
});

Deno.test("StderrLogDecoder turns lines without the prefix into bad records, one each", () => {
  const good = stderrEntry({ message: "ok" });
  const input = bytes(good + "some library wrote this\n\tand this\n" + "\torphan?\n" + good);
  const records = decode([input]);
  assertTiles(records, input.length, "garbage");
  assertEquals(records.map((r) => r.problem === undefined), [true, false, true]);
  assertMatch(
    records[1]!.problem!,
    /^Cannot read stderr log entry in postgresql.log at byte \d+ \(line 2\): line does not match/,
  );
  assertEquals(records[1]!.text, "some library wrote this\n\tand this\n\torphan?");
  const orphan = decode([bytes("\tcontinues nothing\n" + good)]);
  assertMatch(orphan[0]!.problem!, /a continuation line \(TAB\) that follows no log entry/);
  assertEquals(orphan[1]!.message, "ok");
});

Deno.test("StderrLogDecoder reports a cut-off last line as incomplete", () => {
  const entry = stderrEntry({ message: auditMessage(STATEMENT) });
  const input = bytes(entry + entry.slice(0, 70));
  const records = decode([input]);
  assertEquals(records.length, 2);
  assertEquals([records[1]!.incomplete, records[1]!.text], [true, entry.slice(0, 70)]);
  const cutInside = decode([bytes(entry.slice(0, entry.length - 5))]);
  assertEquals(cutInside[0]!.incomplete, true);
});

Deno.test("StderrLogDecoder gives the same records for every split", () => {
  const input = bytes(
    stderrEntry({ severity: "FATAL", message: "nope ü", detail: "d\ne" }) +
      stderrEntry({ message: auditMessage(STATEMENT) }),
  );
  const whole = decode([input]);
  for (let cut = 0; cut <= input.length; cut++) {
    assertEquals(decode([input.subarray(0, cut), input.subarray(cut)]), whole, `cut at ${cut}`);
  }
});

Deno.test("StderrLogStream ends a held entry on an empty chunk", async () => {
  const entry = bytes(stderrEntry({ message: "one" }));
  const { readable, writable } = new StderrLogStream({ logLinePrefix: BUILD_PREFIX });
  const writer = writable.getWriter();
  const reader = readable.getReader();
  void writer.write(entry);
  void writer.write(new Uint8Array(0));
  const first = await reader.read();
  assertEquals(first.value?.message, "one");
  void writer.close();
  assertEquals((await reader.read()).done, true);
});
