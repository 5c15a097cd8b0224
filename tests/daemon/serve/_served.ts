/**
 * A real `vigil serve` child process on a data directory, for the tests that damage a store and
 * serve it: started with a config of its own, waited for until it serves, its `/healthz` polled
 * until a condition holds, stopped with SIGTERM (which must exit 0) or killed.
 */

import { assert, assertEquals, assertEventually } from "../../support/assert.ts";
import { spawnVigil } from "../../support/cli.ts";

export interface Health {
  status: string;
  store: {
    healthy: boolean;
    integrity?: {
      state: string;
      problem: string | null;
      start_check: { ok: boolean };
      last_verification: { ok: boolean; problem: string | null } | null;
      checkpoint_copy?: { path: string; last_size: number | null; error: string | null };
    } | null;
  };
  detection: { state: string; errors: string[] } | null;
}

/** A running `vigil serve` on `data`, with its log and `/healthz`. */
export class Served {
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  #log = "";
  #exited = false;
  readonly #status: Promise<Deno.CommandStatus>;
  base = "";

  private constructor(file: string) {
    const child = this.#child = spawnVigil(["serve", "--config", file]);
    void child.stdin.close();
    void child.stdout.cancel();
    this.#status = child.status.finally(() => (this.#exited = true));
    this.#reading = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#log += chunk;
      }
    })();
  }

  /** Serves `data` with a config written in `dir`; `store` lines go in its `[store]`. */
  static async start(dir: string, data: string, store: string[] = []): Promise<Served> {
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(
      file,
      [`data_dir = "${data}"`, "[web]", 'listen = "127.0.0.1:0"', "[store]", ...store, ""]
        .join("\n"),
    );
    const s = new Served(file);
    try {
      await assertEventually(() => {
        assert(!s.#exited, `serve exited:\n${s.#log}`);
        const line = s.#log.split("\n").find((l) => l.includes('"vigil serving"'));
        if (line !== undefined) s.base = `http://${JSON.parse(line).listen}`;
        return line !== undefined;
      }, { timeoutMs: 60_000, message: "serve starts" });
    } catch (e) {
      await s.kill();
      throw e;
    }
    return s;
  }

  get log(): string {
    return this.#log;
  }

  async health(): Promise<[number, Health]> {
    assert(!this.#exited, `serve exited:\n${this.#log}`);
    const r = await fetch(`${this.base}/healthz`);
    return [r.status, await r.json() as Health];
  }

  /** Waits until `check` holds of `/healthz`; fails with the last answer. */
  async until(check: (code: number, h: Health) => boolean, message: string): Promise<Health> {
    let last: [number, Health] | null = null;
    await assertEventually(async () => {
      last = await this.health();
      return check(...last);
    }, { timeoutMs: 90_000, intervalMs: 200, message }).catch((e) => {
      throw new Error(`${message}: ${JSON.stringify(last)}\n${this.#log}`, { cause: e });
    });
    return last![1];
  }

  /** SIGTERM; the daemon must stop cleanly. */
  async stop(): Promise<void> {
    this.#child.kill("SIGTERM");
    const status = await this.#status;
    await this.#reading;
    assertEquals(status.code, 0, this.#log);
  }

  async kill(): Promise<void> {
    if (!this.#exited) this.#child.kill("SIGKILL");
    await this.#status;
    await this.#reading;
  }
}
