import {
  JsonLogDecoder,
  jsonLogRecord,
  JsonLogStream,
  type JsonRecord,
} from "../../../plugins/pgaudit/jsonlog.ts";
import { assertEquals, assertMatch } from "../../support/assert.ts";
import { auditMessage, bytes, jsonLine } from "./_build.ts";
import { assertTiles } from "./_expect.ts";

function decode(chunks: Uint8Array[]): JsonRecord[] {
  const out: JsonRecord[] = [];
  const d = new JsonLogDecoder({ file: "postgresql.json" });
  for (const c of chunks) d.push(c, (r) => out.push(r));
  d.end((r) => out.push(r));
  return out;
}

const STATEMENT = `select 'a,"b"\n\tc\r\n😀'`;

Deno.test("JsonLogDecoder reads one object a line, with exact byte offsets", () => {
  const lines = [jsonLine({ message: auditMessage(STATEMENT) }), jsonLine({ message: "ü" })];
  const records = decode([bytes(lines.join(""))]);
  assertEquals(records.map((r) => r.object.message), [auditMessage(STATEMENT), "ü"]);
  assertEquals(records.map((r) => [r.start, r.offset, r.line]), [
    [0, bytes(lines[0]!).length, 1],
    [bytes(lines[0]!).length, bytes(lines.join("")).length, 2],
  ]);
});

Deno.test("JsonLogDecoder gives the same records for every split", () => {
  const input = bytes(jsonLine({ message: auditMessage(STATEMENT) }) + jsonLine({ message: "é" }));
  const whole = decode([input]);
  for (let cut = 0; cut <= input.length; cut++) {
    assertEquals(decode([input.subarray(0, cut), input.subarray(cut)]), whole, `cut at ${cut}`);
  }
});

Deno.test("JsonLogDecoder turns lines that are not JSON objects into bad records", () => {
  const good = jsonLine({ message: "ok" });
  const input = bytes(good + "{not json\n" + "[1,2]\n" + "\n" + good);
  const records = decode([input]);
  assertTiles(records, input.length, "bad lines");
  assertEquals(records.map((r) => r.problem === undefined), [true, false, false, false, true]);
  assertMatch(
    records[1]!.problem!,
    /^Cannot read jsonlog line in postgresql.json at byte \d+ \(line 2\): not JSON/,
  );
  assertEquals(records[1]!.text, "{not json");
  assertEquals(records[2]!.problem!.endsWith("(line 3): not a JSON object"), true);
  assertEquals(records[4]!.line, 5);
});

Deno.test("JsonLogDecoder holds a line without its newline until the end", () => {
  const line = jsonLine({ message: "m" });
  const seen: JsonRecord[] = [];
  const d = new JsonLogDecoder();
  d.push(bytes(line + line.slice(0, 30)), (r) => seen.push(r));
  assertEquals(seen.length, 1);
  d.end((r) => seen.push(r));
  assertEquals([seen[1]!.incomplete, seen[1]!.text], [true, line.slice(0, 30)]);
});

Deno.test("JsonLogDecoder replaces invalid UTF-8 and keeps the line's bytes", () => {
  const input = bytes(jsonLine({ message: "a*b" }));
  const at = input.indexOf(0x2a);
  input[at] = 0xc3; // a lead byte followed by an ASCII byte: not UTF-8
  const [r] = decode([input]);
  assertEquals(r!.object.message, "a\uFFFDb");
  assertEquals(r!.invalidBytes, input.subarray(0, input.length - 1));
});

Deno.test("jsonLogRecord names the fields and refuses objects that are not PostgreSQL's", () => {
  const [rec] = decode([
    bytes(jsonLine({ message: "m", host: "10.0.0.1", port: 5000, xid: 9, statement: "s" })),
  ]);
  const r = jsonLogRecord(rec!);
  assertEquals(
    [r.time, r.user, r.db, r.pid, r.host, r.port, r.sessionId, r.lineNum, r.xid, r.statement],
    [
      "2026-11-23 18:00:00.123 UTC",
      "ada",
      "shop",
      4242,
      "10.0.0.1",
      5000,
      "6b048ec8.78d7",
      7,
      9,
      "s",
    ],
  );
  assertEquals([r.vxid, r.commandTag, r.severity, r.applicationName], [
    "3/14",
    "SELECT",
    "LOG",
    "psql",
  ]);
  const big = '{"timestamp":"2026-11-23 18:00:00.123 UTC","error_severity":"LOG","message":"m",' +
    '"query_id":-8960435429357016555}\n';
  assertEquals(jsonLogRecord(decode([bytes(big)])[0]!).queryId, "-8960435429357016555");
  const [odd] = decode([bytes('{"timestamp":"2026-11-23 18:00:00.123 UTC","pid":"x"}\n')]);
  const bad = jsonLogRecord(odd!, "postgresql.json");
  assertMatch(bad.problem!, /line 1\): not a PostgreSQL jsonlog record: bad or missing pid, /);
  assertEquals(bad.text, '{"timestamp":"2026-11-23 18:00:00.123 UTC","pid":"x"}');
});

Deno.test("JsonLogStream turns a byte stream into lines", async () => {
  const input = bytes(jsonLine({ message: "one" }) + jsonLine({ message: "two" }));
  const stream = ReadableStream.from([input.subarray(0, 9), input.subarray(9)]);
  const out = await Array.fromAsync(stream.pipeThrough(new JsonLogStream()));
  assertEquals(out.map((r) => r.object.message), ["one", "two"]);
});
