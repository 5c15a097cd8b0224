import { type JsonLine, JsonLinesStream } from "../../../daemon/event/jsonl.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const NOW = 1_714_550_400_000_000;
const enc = new TextEncoder();

function bytes(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : Uint8Array.from(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Runs chunks through a JsonLinesStream and collects every result. */
async function decode(
  chunks: (string | Uint8Array)[],
  opts: Partial<ConstructorParameters<typeof JsonLinesStream>[0]> = {},
): Promise<JsonLine[]> {
  const input = ReadableStream.from(chunks.map((c) => typeof c === "string" ? enc.encode(c) : c));
  const out: JsonLine[] = [];
  const stream = new JsonLinesStream({ source: "app", clock: () => NOW, ...opts });
  for await (const r of input.pipeThrough(stream)) out.push(r);
  return out;
}

/** Splits bytes into chunks of `size`. */
function chunked(all: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.subarray(i, i + size));
  return out;
}

Deno.test("JsonLinesStream yields one validated event per line with 1-based numbers", async () => {
  const out = await decode(['{"kind":"app","app_user":"ada"}\n{"kind":"auth","ts":5}\n']);
  assertEquals(out, [
    { line: 1, event: { ts: NOW, source: "app", kind: "app", app_user: "ada" } },
    { line: 2, event: { ts: 5, source: "app", kind: "auth" } },
  ]);
});

Deno.test("JsonLinesStream skips blank lines but counts them", async () => {
  const out = await decode(['\n  \n\t\r\n{"kind":"app"}\n\n{"kind":"ddl"}\n\n']);
  assertEquals(out.map((r) => r.line), [4, 6]);
});

Deno.test("JsonLinesStream handles CRLF and a final line without newline", async () => {
  const out = await decode(['{"kind":"app"}\r\n{"kind":"ddl","db":"x"}\r\n{"kind":"auth"}']);
  assertEquals(out.map((r) => "event" in r ? r.event.kind : r.error), ["app", "ddl", "auth"]);
  assertEquals(out[1], { line: 2, event: { ts: NOW, source: "app", kind: "ddl", db: "x" } });
});

Deno.test("JsonLinesStream reports malformed JSON with its line and text", async () => {
  const out = await decode(['{"kind":"app"}\n{"kind": app}\n{"kind":"ddl"}\n']);
  assertEquals(out.length, 3);
  const bad = out[1]!;
  assert("error" in bad);
  assertEquals(bad.line, 2);
  assert(bad.error.startsWith("not valid JSON: "), bad.error);
  assertEquals(bad.raw, '{"kind": app}');
  assert("event" in out[2]!);
});

Deno.test("JsonLinesStream reports a line that is JSON but not an object", async () => {
  const out = await decode(['[1,2]\n"x"\nnull\n']);
  assertEquals(out.map((r) => "error" in r ? r.error : "event"), [
    "event: not a JSON object (got array)",
    "event: not a JSON object (got string)",
    "event: not a JSON object (got null)",
  ]);
});

Deno.test("JsonLinesStream reports validation failures with the field", async () => {
  const out = await decode(['{"kind":"app","pid":-1}\n{"kind":"app","seq":1}\n']);
  assertEquals(out, [
    {
      line: 1,
      error: 'field "pid": not a non-negative integer: -1',
      raw: '{"kind":"app","pid":-1}',
    },
    {
      line: 2,
      error: 'field "seq": is assigned by the store; remove it from the input',
      raw: '{"kind":"app","seq":1}',
    },
  ]);
});

Deno.test("JsonLinesStream reports invalid UTF-8 for that line only", async () => {
  const input = bytes('{"kind":"app","db":"', [0xff, 0xfe], '"}\n{"kind":"app","db":"ü"}\n');
  const out = await decode([input]);
  assertEquals(out[0], {
    line: 1,
    error: "not valid UTF-8",
    raw: '{"kind":"app","db":"\ufffd\ufffd"}',
  });
  assertEquals(out[1], { line: 2, event: { ts: NOW, source: "app", kind: "app", db: "ü" } });
  const truncated = await decode([bytes('{"kind":"app","db":"', [0xe4, 0xb8], '"}')]);
  assertEquals(truncated.map((r) => "error" in r && r.error), ["not valid UTF-8"]);
});

Deno.test("JsonLinesStream joins lines and characters split across one-byte chunks", async () => {
  const text = '{"kind":"app","statement":"中文 🦀 ü"}\r\n\n{"kind":"ddl"}';
  const out = await decode(chunked(enc.encode(text), 1));
  assertEquals(out, [
    { line: 1, event: { ts: NOW, source: "app", kind: "app", statement: "中文 🦀 ü" } },
    { line: 3, event: { ts: NOW, source: "app", kind: "ddl" } },
  ]);
});

Deno.test("JsonLinesStream skips a UTF-8 byte order mark at the start only", async () => {
  const out = await decode([
    bytes([0xef, 0xbb, 0xbf], '{"kind":"app"}\n', [0xef, 0xbb, 0xbf], "{}\n"),
  ]);
  assert("event" in out[0]!);
  assert("error" in out[1]! && out[1].error.startsWith("not valid JSON"));
});

Deno.test("JsonLinesStream decodes a multi-megabyte line in linear time", async () => {
  const statement = "SELECT '" + "ab🦀".repeat(1_500_000) + "'"; // 10.5 MB of UTF-8
  const line = enc.encode(JSON.stringify({ kind: "app", statement }) + "\n");
  const started = performance.now();
  const out = await decode([...chunked(line, 4096), ...chunked(line, 65_536)]);
  const ms = performance.now() - started;
  assertEquals(out.length, 2);
  for (const r of out) assert("event" in r && r.event.statement === statement);
  assert(ms < 5000, `took ${ms} ms`);
});

Deno.test("JsonLinesStream skips a line over maxLineBytes and reads on", async () => {
  const long = JSON.stringify({ kind: "app", statement: "x".repeat(5000) });
  const input = enc.encode(`${long}\n{"kind":"ddl"}\n${long}`);
  const out = await decode(chunked(input, 100), { maxLineBytes: 1000 });
  assertEquals(out, [
    { line: 1, error: "line is longer than the limit of 1000 bytes" },
    { line: 2, event: { ts: NOW, source: "app", kind: "ddl" } },
    { line: 3, error: "line is longer than the limit of 1000 bytes" },
  ]);
  const oneChunk = await decode([input], { maxLineBytes: 1000 });
  assertEquals(oneChunk, out);
});

Deno.test("JsonLinesStream allows a line of exactly maxLineBytes, with or without CR", async () => {
  const line = '{"kind":"app"}';
  for (const input of [`${line}\n${line}`, `${line}\r\n${line}\r\n`, line]) {
    const want = input === line ? [true] : [true, true];
    for (const size of [3, input.length]) {
      const out = await decode(chunked(enc.encode(input), size), { maxLineBytes: line.length });
      assertEquals(out.map((r) => "event" in r), want, JSON.stringify(input));
    }
  }
  const over = await decode([line + " \n"], { maxLineBytes: line.length });
  assertEquals(over.map((r) => "error" in r && r.error), [
    `line is longer than the limit of ${line.length} bytes`,
  ]);
});

Deno.test("JsonLinesStream passes maxFieldBytes on to validation", async () => {
  const out = await decode(['{"kind":"app","statement":"12345"}\n'], { maxFieldBytes: 4 });
  assert("error" in out[0]! && out[0].error.includes("larger than the limit of 4 bytes"));
});

Deno.test("JsonLinesStream reads the clock once per line for events without ts", async () => {
  let t = 100;
  const out = await decode(['{"kind":"app"}\n{"kind":"app"}\n{"kind":"app","ts":7}\n'], {
    clock: () => t++,
  });
  assertEquals(out.map((r) => "event" in r && r.event.ts), [100, 101, 7]);
});

Deno.test("JsonLinesStream keeps its own copy when the producer reuses a chunk", async () => {
  const stream = new JsonLinesStream({ source: "app", clock: () => NOW });
  const writer = stream.writable.getWriter();
  const results = (async () => {
    const out: JsonLine[] = [];
    for await (const r of stream.readable) out.push(r);
    return out;
  })();
  const buf = enc.encode('{"kind":"app","db":"shop"');
  await writer.write(buf);
  buf.fill(0x20); // the producer reuses its buffer for the next read
  await writer.write(enc.encode("}\n"));
  await writer.close();
  assertEquals(await results, [
    { line: 1, event: { ts: NOW, source: "app", kind: "app", db: "shop" } },
  ]);
});

Deno.test("JsonLinesStream never fails on random bytes", async () => {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed >>> 24;
  };
  const alphabet = enc.encode('{}[]":,\\ \n\r\tkindapp0123456789-eE.nultrfs');
  const input = new Uint8Array(200_000);
  for (let i = 0; i < input.length; i++) {
    const r = rand();
    input[i] = r < 200 ? alphabet[r % alphabet.length]! : r;
  }
  const out = await decode(chunked(input, 777));
  let last = 0;
  for (const r of out) {
    assert(r.line > last, "line numbers increase");
    last = r.line;
    assert("event" in r || typeof r.error === "string");
  }
  const newlines = input.filter((b) => b === 0x0a).length;
  assert(last <= newlines + 1);
});

Deno.test("JsonLinesStream throws a TypeError for bad options", () => {
  assertThrows(() => new JsonLinesStream({ source: "" }), TypeError);
  assertThrows(() => new JsonLinesStream({ source: "a", maxLineBytes: -1 }), TypeError);
});

Deno.test("JsonLinesStream keeps numbers a double would round as the strings of their digits", async () => {
  const out = await decode([
    '{"kind":"app","context":{"id":12345678901234567890,"n":7,"x":0.5},' +
    '"old_row":{"big":-18446744073709551616}}\n',
  ]);
  assertEquals(out, [{
    line: 1,
    event: {
      ts: NOW,
      source: "app",
      kind: "app",
      old_row: { big: "-18446744073709551616" },
      context: { id: "12345678901234567890", n: 7, x: 0.5 },
    },
  }]);
});
