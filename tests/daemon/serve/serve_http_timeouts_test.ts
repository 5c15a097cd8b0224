/**
 * `vigil serve` does not wait for slow clients: with its default timeouts, a request whose
 * headers or body come a byte every two seconds is answered 408 and cut off long before it is
 * complete (headers within 10 s, the whole request within 30 s), and a SIGTERM stops it cleanly,
 * with no part complaining that it was closed before the daemon's last event.
 */

import { assert, assertMatch } from "../../support/assert.ts";
import { spawnVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

const enc = new TextEncoder();

/** Sends `head`, then a byte of `drip` every 2 s; what came back and whether all was sent. */
async function slowClient(
  port: number,
  head: string,
  drip: string,
): Promise<{ answer: string; sentAll: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const answer = (async () => {
    let out = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  })();
  let sentAll = true;
  let closed = false;
  void answer.then(() => (closed = true));
  try {
    await conn.write(enc.encode(head));
    for (const ch of drip) {
      await new Promise((r) => setTimeout(r, 2000));
      if (closed) throw new Error("closed by the server");
      await conn.write(enc.encode(ch));
    }
  } catch {
    sentAll = false;
  }
  // Everything went through: the server is still waiting (the bug this test is about), so
  // stop waiting for it too.
  if (sentAll) conn.close();
  const text = await answer;
  try {
    conn.close();
  } catch { /* closed by the server */ }
  return { answer: text, sentAll };
}

Deno.test("vigil serve cuts off requests whose headers or body come a byte every two seconds", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(file, `data_dir = "${dir}/data"\n[web]\nlisten = "127.0.0.1:0"\n`);
    const child = spawnVigil(["serve", "--config", file]);
    await child.stdin.close();
    await child.stdout.cancel();
    const lines: string[] = [];
    const stderr = (async () => {
      let rest = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        lines.push(...parts);
      }
    })();
    try {
      let port = 0;
      for (let i = 0; i < 600 && port === 0; i++) {
        const line = lines.find((l) => l.includes('"vigil serving"'));
        if (line) port = Number(JSON.parse(line).listen.split(":").at(-1));
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert(port > 0, `serve did not start:\n${lines.join("\n")}`);

      // 40 bytes at one every 2 s would take 80 s; the server stops waiting before that.
      const [headers, body] = await Promise.all([
        slowClient(port, "GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ", "a".repeat(40)),
        slowClient(
          port,
          "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded" +
            "\r\nContent-Length: 40\r\n\r\n",
          "b".repeat(40),
        ),
      ]);
      assert(!headers.sentAll, "slow headers were waited for");
      assertMatch(headers.answer, /^HTTP\/1\.1 408/);
      assert(!body.sentAll, "a slow body was waited for");
      assertMatch(body.answer, /^HTTP\/1\.1 408/);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await stderr;
    }
    const stop = lines.findIndex((l) => l.includes('"vigil stopping"'));
    assert(stop >= 0, lines.join("\n"));
    const after = lines.slice(stop).filter((l) => /"level":"(warn|error)"/.test(l));
    assert(after.length === 0, `the stop logged problems:\n${after.join("\n")}`);
  });
});
