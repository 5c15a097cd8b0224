import {
  CsvLogDecoder,
  csvLogRecord,
  CsvLogStream,
  type CsvRecord,
} from "../../../plugins/pgaudit/csvlog.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../support/assert.ts";
import { auditMessage, bytes, csvRow } from "./_build.ts";
import { assertTiles } from "./_expect.ts";

function decode(chunks: Uint8Array[], opts = {}): CsvRecord[] {
  const out: CsvRecord[] = [];
  const d = new CsvLogDecoder(opts);
  for (const c of chunks) d.push(c, (r) => out.push(r));
  d.end((r) => out.push(r));
  return out;
}

const STATEMENT = `select 'a,"b"\n\tc\r\n😀' from t where x = ','`;

Deno.test("CsvLogDecoder reads a record whose quoted fields span lines", () => {
  const row = csvRow({ message: auditMessage(STATEMENT), statement: "x\ny" });
  const [r, ...rest] = decode([bytes(row + row)]);
  assertEquals(rest.length, 1);
  assertEquals(r!.problem, undefined);
  assertEquals(r!.fields.length, 26);
  assertEquals(r!.fields[13], auditMessage(STATEMENT));
  assertEquals(r!.fields[19], "x\ny");
  assertEquals([r!.start, r!.offset, r!.line], [0, bytes(row).length, 1]);
  assertEquals(rest[0]!.line, 1 + row.split("\n").length - 1);
});

Deno.test("CsvLogDecoder gives byte offsets, not character offsets, with multi-byte text", () => {
  const rows = ["😀 ünï", "中文", "plain"].map((m) => csvRow({ message: m }));
  const records = decode([bytes(rows.join(""))]);
  let at = 0;
  for (const [i, r] of records.entries()) {
    assertEquals(r.start, at);
    at += bytes(rows[i]!).length;
    assertEquals(r.offset, at);
  }
});

Deno.test("CsvLogDecoder gives the same records for every split, inside UTF-8 sequences too", () => {
  const input = bytes(csvRow({ message: auditMessage(STATEMENT) }) + csvRow({ message: "é" }));
  const whole = decode([input]);
  for (let cut = 0; cut <= input.length; cut++) {
    const split = decode([input.subarray(0, cut), input.subarray(cut)]);
    assertEquals(split, whole, `cut at ${cut}`);
  }
});

Deno.test("CsvLogDecoder replaces invalid UTF-8 and keeps the record's bytes", () => {
  const row = bytes(csvRow({ message: "bad \xff here" }).replace("\xff", "\u0001"));
  row[row.indexOf(1)] = 0xff;
  const [r] = decode([row]);
  assertEquals(r!.problem, undefined);
  assertEquals(r!.fields[13], "bad \uFFFD here");
  assertEquals(r!.invalidBytes, row.subarray(0, row.length - 1));
});

Deno.test("CsvLogDecoder holds a cut-off last record and reports it incomplete at the end", () => {
  const row = csvRow({ message: auditMessage(STATEMENT) });
  const input = bytes(row + row.slice(0, 120));
  const d = new CsvLogDecoder();
  const seen: CsvRecord[] = [];
  d.push(input, (r) => seen.push(r));
  assertEquals(seen.length, 1);
  d.end((r) => seen.push(r));
  assertEquals(seen.length, 2);
  assertEquals(seen[1]!.incomplete, true);
  assertMatch(seen[1]!.problem!, /at byte \d+ \(line 4\): the input ends inside this record/);
  assertEquals(seen[1]!.text, row.slice(0, 120));
  assertTiles(seen, input.length, "cut");
});

Deno.test("CsvLogDecoder passes the rest of a record on when it arrives later", () => {
  const row = bytes(csvRow({ message: auditMessage(STATEMENT) }));
  const seen: CsvRecord[] = [];
  const d = new CsvLogDecoder();
  d.push(row.subarray(0, 50), (r) => seen.push(r));
  assertEquals(seen.length, 0);
  d.push(row.subarray(50), (r) => seen.push(r));
  assertEquals(seen.length, 1);
  assertEquals(seen[0]!.problem, undefined);
});

Deno.test("CsvLogDecoder resynchronises after garbage with an unbalanced quote", () => {
  const good = csvRow({ message: "after" });
  for (const garbage of ['junk "open\n', 'junk "open', "\x00\x01,,,\n", '2026-11-23 1"']) {
    const input = bytes(csvRow({ message: "before" }) + garbage + good + good);
    const records = decode([input]);
    assertTiles(records, input.length, JSON.stringify(garbage));
    assertEquals(records.map((r) => r.problem === undefined), [true, false, true, true]);
    assertEquals(records[1]!.text, garbage.replace(/\n$/, ""));
    assertEquals(records[2]!.fields[13], "after");
  }
});

Deno.test("CsvLogDecoder reads a record that only looks like it holds records", () => {
  const fake = csvRow({ message: "fake" });
  const row = csvRow({ message: auditMessage(`select '\n${fake}\n'`) });
  const records = decode([bytes(row)]);
  assertEquals(records.length, 1);
  assertEquals(records[0]!.fields[13], auditMessage(`select '\n${fake}\n'`));
});

Deno.test("CsvLogDecoder gives up a record without an end at maxRecordBytes", () => {
  const input = bytes(csvRow({ message: "x" }).slice(0, 60) + "y".repeat(5000));
  const seen: CsvRecord[] = [];
  const d = new CsvLogDecoder({ maxRecordBytes: 1000 });
  for (let i = 0; i < input.length; i += 100) {
    d.push(input.subarray(i, i + 100), (r) => seen.push(r));
  }
  assert(seen.length >= 1 && seen.every((r) => r.problem !== undefined), "bad records");
  d.end((r) => seen.push(r));
  assertTiles(seen, input.length, "overlong");
});

Deno.test("CsvLogDecoder starts at startOffset and startLine", () => {
  const records = decode([bytes("junk\n" + csvRow({ message: "m" }))], {
    startOffset: 1000,
    startLine: 40,
    file: "postgresql.csv",
  });
  assertEquals(
    records[0]!.problem,
    "Cannot read csvlog record in postgresql.csv at byte 1000 " +
      "(line 40): the first field is not a log time",
  );
  assertEquals([records[1]!.start, records[1]!.line], [1005, 41]);
});

Deno.test("CsvLogDecoder checks its options", () => {
  assertThrows(() => new CsvLogDecoder({ startOffset: -1 }), { instanceOf: TypeError });
  assertThrows(() => new CsvLogDecoder({ columns: 3 }), { instanceOf: TypeError });
});

Deno.test("CsvLogDecoder reads a 4 MB statement arriving in 64 kB chunks", () => {
  const statement = "select '" + 'ü,"\n'.repeat(1_000_000) + "'";
  const input = bytes(csvRow({ message: auditMessage(statement) }));
  const chunks = [];
  for (let i = 0; i < input.length; i += 65536) chunks.push(input.subarray(i, i + 65536));
  const records = decode(chunks);
  assertEquals(records.length, 1);
  assertEquals(records[0]!.fields[13], auditMessage(statement));
});

Deno.test("csvLogRecord names the fields and splits connection_from", () => {
  const cases: [string | undefined, number | undefined, string | undefined, number | undefined][] =
    [
      ["127.0.0.1", 5433, "127.0.0.1", 5433],
      ["::1", 40000, "::1", 40000],
      [undefined, undefined, undefined, undefined],
    ];
  for (const [host, port, wantHost, wantPort] of cases) {
    const row = csvRow({ message: "m", host, port, xid: 725, statement: "s", detail: "d" });
    const r = csvLogRecord(decode([bytes(row)])[0]!);
    assertEquals([r.host, r.port], [wantHost, wantPort]);
    assertEquals([r.user, r.db, r.pid, r.xid, r.lineNum], ["ada", "shop", 4242, 725, 7]);
    assertEquals([r.statement, r.detail, r.severity, r.sqlstate], ["s", "d", "LOG", "00000"]);
    assertEquals([r.time, r.vxid, r.applicationName], [
      "2026-11-23 18:00:00.123 UTC",
      "3/14",
      "psql",
    ]);
  }
  const local = csvLogRecord(decode([bytes(csvRow({ message: "m", host: "[local]" }))])[0]!);
  assertEquals([local.host, local.port], ["[local]", undefined]);
});

Deno.test("CsvLogStream turns a byte stream into records", async () => {
  const input = bytes(csvRow({ message: "one" }) + csvRow({ message: "two\nlines" }) + "cut");
  const stream = ReadableStream.from([input.subarray(0, 7), input.subarray(7)]);
  const out = await Array.fromAsync(stream.pipeThrough(new CsvLogStream()));
  assertEquals(out.map((r) => r.fields[13] ?? r.incomplete), ["one", "two\nlines", true]);
});
