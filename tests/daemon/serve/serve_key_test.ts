/**
 * Signing-key rotation on a real `vigil serve`: the daemon holds the data directory's lock, so
 * `vigil key rotate` is refused and points to the UI; an admin rotates on the Administration page,
 * the daemon's own store makes the handover, and after the stop `vigil verify` with the public
 * key kept from before follows it.
 */

import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

const ADMIN_PASSWORD = "a long enough passphrase";

Deno.test("vigil serve: an admin rotates the signing key in the UI; the CLI is sent there", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(file, `data_dir = "${data}"\n\n[web]\nlisten = "127.0.0.1:0"\n`);
    await Deno.mkdir(data);
    const add = await runVigil(
      ["user", "add", "--data", data, "--name", "ada", "--role", "admin"],
      { stdin: `${ADMIN_PASSWORD}\n` },
    );
    assertEquals(add.code, 0, add.stderr);

    const child = spawnVigil(["serve", "--config", file]);
    await child.stdin.close();
    const lines: string[] = [];
    const reading = (async () => {
      let rest = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        lines.push(...parts);
      }
    })();
    const draining = child.stdout.pipeTo(new WritableStream());
    let exited = false;
    const status = child.status.finally(() => (exited = true));
    let oldId = "";
    try {
      const line = await assertEventually(() => {
        assert(!exited, `serve exited:\n${lines.join("\n")}`);
        return lines.find((l) => l.includes('"vigil serving"'));
      }, { timeoutMs: 30_000, message: "serve starts" });
      const base = `http://${JSON.parse(line).listen}`;
      const cookies = new Map<string, string>();
      const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
        const headers = new Headers(init.headers);
        headers.set("Cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
        headers.set("Origin", base);
        const res = await fetch(`${base}${path}`, { ...init, headers, redirect: "manual" });
        for (const l of res.headers.getSetCookie()) {
          const [pair] = l.split(";");
          const eq = pair!.indexOf("=");
          cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        return res;
      };
      const post = (path: string, fields: Record<string, string>) =>
        request(path, { method: "POST", body: new URLSearchParams(fields) });
      const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

      const login = await post("/login", {
        _csrf: csrfOf(await (await request("/login")).text()),
        name: "ada",
        password: ADMIN_PASSWORD,
        next: "",
      });
      assertEquals(login.status, 303);
      const oldPem = await (await request("/keys/signing.pub.pem")).text();
      await Deno.writeTextFile(`${dir}/kept.pub`, oldPem);
      const admin = await (await request("/admin")).text();
      oldId = /<code id="key-id">([0-9a-f]{16})<\/code>/.exec(admin)![1]!;

      const cli = await runVigil(["key", "rotate", "--data", data]);
      assertEquals(cli.code, 3);
      assertMatch(cli.stderr, /in use by another writer.*Administration → Signing key/);

      const rotated = await post("/admin/keys/rotate", { _csrf: csrfOf(admin), confirm: oldId });
      assertEquals(rotated.status, 303, await rotated.text());
      const after = await (await request("/admin?done=key-rotated")).text();
      const newId = /<code id="key-id">([0-9a-f]{16})<\/code>/.exec(after)![1]!;
      assert(newId !== oldId, "a new key signs");
      assertEquals(await (await request(`/keys/history/${oldId}.pub.pem`)).text(), oldPem);

      child.kill("SIGTERM");
      assertEquals((await status).code, 0, lines.join("\n"));
    } finally {
      if (!exited) child.kill("SIGKILL");
      await status;
      await reading;
      await draining;
    }
    const v = await runVigil(["verify", "--data", data, "--pubkey", `${dir}/kept.pub`]);
    assertEquals(v.code, 0, v.stdout + v.stderr);
    assertMatch(v.stdout, new RegExp(`signed by keys ${oldId} → [0-9a-f]{16} \\(rotation at seq`));
    const q = await runVigil(["query", "--data", data, "--command", "KEY_ROTATE"]);
    const sources = q.stdout.trim().split("\n").map((l) => JSON.parse(l).source).sort();
    assertEquals(sources, ["vigil", "vigil-ui"]);
  });
});
