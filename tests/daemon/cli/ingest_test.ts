/**
 * `vigil ingest` as a person runs it, in a child process: what reaches the store from its
 * input is redacted and exact (no password, no rounded number), and what it prints about a bad
 * line cannot drive the terminal (escape sequences and bidi overrides are shown as `\uXXXX`).
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { assert, assertEquals, assertStringIncludes } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

async function stored(dir: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const r of readLog(dir)) out.push(r.event);
  return out;
}

/** Every byte of every file under `dir`, as latin1 text. */
async function allBytes(dir: string): Promise<string> {
  let out = "";
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out += await allBytes(path);
    else if (e.isFile) out += new TextDecoder("latin1").decode(await Deno.readFile(path));
  }
  return out;
}

Deno.test("vigil ingest stores a password in a statement redacted", async () => {
  await withTempDir(async (dir) => {
    const input = JSON.stringify({
      kind: "app",
      command: "ROTATE",
      statement: "ALTER ROLE app PASSWORD 'hunter2'",
      params: ["password=hunter3"],
    }) + "\n";
    const r = await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: input });
    assertEquals(r.code, 0, r.stderr);
    const [ev] = await stored(dir);
    assertEquals(ev?.statement, "ALTER ROLE app PASSWORD <REDACTED>");
    assertEquals(ev?.params, ["password=<REDACTED>"]);
    assertEquals(ev?.redacted, true);
    const onDisk = await allBytes(dir);
    for (const secret of ["hunter2", "hunter3"]) assert(!onDisk.includes(secret), secret);
  });
});

Deno.test("vigil ingest keeps numbers past 2^53 exact, as strings of their digits", async () => {
  await withTempDir(async (dir) => {
    const input = '{"kind":"app","context":{"order":12345678901234567890,"amount":0.1,' +
      '"n":9007199254740993,"small":42,"tiny":1e-400},"new_row":{"id":18446744073709551615}}\n';
    const r = await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: input });
    assertEquals(r.code, 0, r.stderr);
    const [ev] = await stored(dir);
    assertEquals(ev?.context, {
      order: "12345678901234567890",
      amount: 0.1,
      n: "9007199254740993",
      small: 42,
      tiny: "1e-400",
    });
    assertEquals(ev?.new_row, { id: "18446744073709551615" });
  });
});

Deno.test("vigil ingest shows control and bidi characters of bad lines escaped", async () => {
  await withTempDir(async (dir) => {
    const esc = "\x1b]0;owned\x07\x1b[2J\x1b[31m";
    const input = `${esc}not json\n` +
      JSON.stringify({ kind: "app", ts: `x${esc}\u202e\u009b` }) + "\n" +
      JSON.stringify({ kind: `nope${esc}` }) + "\n";
    const r = await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: input });
    assertEquals(r.code, 1);
    // deno-lint-ignore no-control-regex
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
    assert(!raw.test(r.stderr), `raw control characters on stderr: ${JSON.stringify(r.stderr)}`);
    assertStringIncludes(r.stderr, "line 1: ");
    assertStringIncludes(r.stderr, "\\u001b");
    assertEquals(r.stderr.trim().split("\n").length, 3, r.stderr);
  });
});
