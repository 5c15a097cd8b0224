/**
 * The Administration page of a real `vigil serve`: an admin made with `vigil user add` signs in
 * over HTTP, tests and adds a WAL source on the harness's PostgreSQL (password logins) with the
 * password typed into the form, and the daemon reloads and runs it — `/healthz` shows it
 * running, and the password sits only in its 0600 file.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { withPostgres } from "../../support/postgres.ts";
import { withTempDir } from "../../support/store.ts";

const ADMIN_PASSWORD = "a long enough passphrase";

/** A browser's worth of HTTP: cookies kept, forms posted from the page's origin. */
class Browser {
  #cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Cookie", [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(`${this.base}${path}`, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      this.#cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }

  async csrf(path: string): Promise<string> {
    const html = await (await this.request(path)).text();
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    assert(m !== null, `no CSRF token on ${path}`);
    return m[1]!;
  }

  post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.request(path, {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: { Origin: this.base },
    });
  }
}

/** Waits until `check` passes; fails with its last error. */
async function until(check: () => unknown, message: string): Promise<void> {
  let last: unknown;
  await assertEventually(async () => {
    try {
      await check();
      return true;
    } catch (error) {
      last = error;
      return false;
    }
  }, { timeoutMs: 30_000, message, intervalMs: 100 }).catch((e) => {
    throw new Error(`${message}: ${last instanceof Error ? last.message : last}`, { cause: e });
  });
}

Deno.test("vigil serve: an admin adds a WAL source in the UI and the daemon runs it", async () => {
  await withPostgres(async (pg) => {
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
      try {
        let listen = "";
        await until(() => {
          assert(!exited, `serve exited:\n${lines.join("\n")}`);
          const line = lines.find((l) => l.includes('"vigil serving"'));
          assert(line !== undefined, "not serving yet");
          listen = JSON.parse(line).listen;
        }, "serve starts");
        const b = new Browser(`http://${listen}`);
        const login = await b.post("/login", {
          _csrf: await b.csrf("/login"),
          name: "ada",
          password: ADMIN_PASSWORD,
          next: "",
        });
        assertEquals(login.status, 303);
        const csrf = await b.csrf("/admin");

        const url = new URL(pg.dsn());
        url.password = "";
        const saved = await b.post("/admin/sources", {
          _csrf: csrf,
          type: "wal",
          name: "billing",
          dsn: url.toString(),
          slot: "vigil_billing",
          publication: "vigil_billing",
          password: pg.password,
        });
        assertEquals(saved.status, 303, await saved.text());
        assertEquals(saved.headers.get("Location"), "/admin?done=source-saved#sources");
        const secret = `${data}/secrets/billing.password`;
        assertEquals((await Deno.stat(secret)).mode! & 0o777, 0o600);

        await until(async () => {
          const h = await (await b.request("/healthz")).json();
          const billing = h.sources.find((s: { name: string }) => s.name === "billing");
          assert(billing?.state === "running" && billing.healthy, JSON.stringify(h));
        }, "the UI's source runs");

        let probe = "";
        // The source makes its slot once it streams, which may be just after it reports running.
        await until(async () => {
          probe = await (await b.post("/admin/sources/billing/test", { _csrf: csrf })).text();
          assert(probe.includes("Connection test passed."), probe);
          assert(probe.includes("slot vigil_billing: exists"), "no slot yet");
        }, "the probe finds the source's slot");
        const page = await (await b.request("/admin")).text();
        assert(!page.includes(pg.password) && !probe.includes(pg.password), "password shown");

        child.kill("SIGTERM");
        assertEquals((await status).code, 0, lines.join("\n"));
      } finally {
        if (!exited) child.kill("SIGKILL");
        await status;
        await reading;
        await draining;
      }
      const q = await runVigil(["query", "--data", data, "--source", "vigil-ui"]);
      const commands = q.stdout.trim().split("\n").map((l) => JSON.parse(l).command);
      assert(commands.includes("SOURCE_ADD") && commands.includes("SOURCE_TEST"), q.stdout);
      assert(!q.stdout.includes(pg.password), "password in the chain");
    });
  }, { passwordAuth: true });
});
