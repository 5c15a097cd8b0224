/**
 * A `vigil serve` child for tests: spawned on a config file, its stderr kept line by line, waited
 * for until it logs "vigil serving" (its web address then known), stopped with SIGTERM (which must
 * exit 0) or killed. Every path ends the child and the readers of its output.
 */

import { assert, assertEventually } from "./assert.ts";
import { spawnVigil } from "./cli.ts";

/**
 * A stream's lines as they come (the last one once the stream ends), pushed to `lines` (two
 * streams may share one), and when it has ended.
 */
export function streamLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[] = [],
): { lines: string[]; done: Promise<void> } {
  const done = (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
    if (rest !== "") lines.push(rest);
  })();
  return { lines, done };
}

/** A running `vigil serve`. */
export interface ServeChild {
  /** Its stderr so far, a line each. */
  readonly lines: string[];
  /** `host:port` of its web server. */
  readonly listen: string;
  readonly exited: boolean;
  /** SIGTERM, then fails unless it exited 0. */
  stop(): Promise<void>;
  /** SIGKILL unless it already exited; waits for it and its readers. */
  kill(): Promise<void>;
}

/** Starts `vigil serve --config file` and waits until it serves (or fails with its log). */
export async function startServe(file: string, timeoutMs = 60_000): Promise<ServeChild> {
  const child = spawnVigil(["serve", "--config", file]);
  await child.stdin.close();
  const err = streamLines(child.stderr);
  const stdout = child.stdout.cancel();
  let exited = false;
  const status = child.status.finally(() => (exited = true));
  const ended = async (): Promise<Deno.CommandStatus> => {
    const s = await status;
    await err.done;
    await stdout;
    return s;
  };
  const kill = async (): Promise<void> => {
    if (!exited) child.kill("SIGKILL");
    await ended();
  };
  let listen = "";
  try {
    await assertEventually(() => {
      assert(!exited, `serve exited:\n${err.lines.join("\n")}`);
      const line = err.lines.find((l) => l.includes('"vigil serving"'));
      if (line !== undefined) listen = JSON.parse(line).listen;
      return line !== undefined;
    }, { timeoutMs, intervalMs: 100, message: "serve never started" });
  } catch (e) {
    await kill();
    throw e;
  }
  return {
    lines: err.lines,
    listen,
    get exited() {
      return exited;
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const s = await ended();
      assert(s.code === 0, `serve exited ${s.code}:\n${err.lines.join("\n")}`);
    },
    kill,
  };
}
