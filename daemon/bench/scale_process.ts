/**
 * The processes `vigil bench scale` measures: `vigil` commands started from this checkout with
 * the `vigil` task's permissions (what an admin runs; `serve` as the packaged launcher starts
 * it, with the allocator's environment and V8's flags of `serve/process_settings.ts`, so that
 * its memory is that of what ships), their resident memory read from
 * /proc/<pid>/status while they run, and the bytes a data directory's parts take on disk; and
 * the two small helpers every phase uses (waiting, and figures to two decimals).
 */

import { EXPORT_V8_FLAGS, SERVE_ENV, SERVE_V8_FLAGS } from "../serve/process_settings.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const MIB = 1024 * 1024;

/** A running `vigil` child. */
export interface ChildVigil {
  child: Deno.ChildProcess;
  /** Current and highest resident set of the child, in MiB (0 once it has exited). */
  rss(): Promise<{ rssMib: number; hwmMib: number }>;
  /** All it wrote to stderr (once it has exited). */
  stderrText(): Promise<string>;
  /** Lines of stderr so far. */
  readonly lines: string[];
  /** SIGTERM, then wait for it to exit. */
  stop(): Promise<void>;
}

/** Starts `vigil ARGS` as the `vigil` task would (`serve` as the packaged launcher does). */
export function spawnVigil(args: string[]): ChildVigil {
  const serve = args[0] === "serve";
  const child = new Deno.Command(Deno.execPath(), {
    ...(serve ? { env: { ...SERVE_ENV } } : {}),
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `--allow-ffi=/usr/lib/x86_64-linux-gnu/libcrypto.so.3,${ROOT}/.tools/native/libvigil_hash.so`,
      "--allow-net=127.0.0.1,localhost",
      "--allow-sys=statfs",
      ...(serve ? [SERVE_V8_FLAGS] : args[0] === "export" ? [EXPORT_V8_FLAGS] : []),
      `${ROOT}/daemon/main.ts`,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const done = (async () => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const l of parts) lines.push(l.slice(0, 2000));
      // A long run logs a lot; keep the start (where the listen address is) and the end.
      if (lines.length > 2000) lines.splice(200, lines.length - 1000);
    }
    if (rest !== "") lines.push(rest);
  })();
  return {
    child,
    lines,
    rss: () => procMemory(child.pid),
    stderrText: async () => {
      await done;
      return lines.slice(-40).join("\n");
    },
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await done;
    },
  };
}

/** Waits for `serve`'s "vigil serving" line and a `/healthz` 200; returns the base URL. */
export async function waitHealthy(serve: ChildVigil, timeoutMs = 600_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  serve.child.status.then(() => (exited = true));
  let base: string | undefined;
  while (performance.now() < deadline) {
    if (exited) throw new Error(`vigil serve exited: ${await serve.stderrText()}`);
    if (base === undefined) {
      const line = serve.lines.find((l) => l.includes('"vigil serving"'));
      if (line !== undefined) base = `http://${JSON.parse(line).listen}`;
    }
    if (base !== undefined) {
      const r = await fetch(`${base}/healthz`).catch(() => undefined);
      await r?.body?.cancel();
      if (r?.status === 200) return base;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`vigil serve was not healthy within ${timeoutMs / 1000} s`);
}

/**
 * VmRSS and VmHWM of a process, in MiB; zeros when it is gone. Read through `cat`: Deno lets only
 * a process with every permission read another process's /proc files, and the bench runs with
 * `--allow-run`, not with all.
 */
export async function procMemory(pid: number): Promise<{ rssMib: number; hwmMib: number }> {
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) return { rssMib: 0, hwmMib: 0 };
  const text = new TextDecoder().decode(out.stdout);
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return {
    rssMib: Math.round(kb("VmRSS") * 1024 / MIB),
    hwmMib: Math.round(kb("VmHWM") * 1024 / MIB),
  };
}

/** Bytes of every file below `dir` (0 when it does not exist). */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) total += await dirBytes(p);
      else if (e.isFile) total += (await Deno.stat(p)).size;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return total;
}

/** `x` to two decimals, as the bench's figures are printed. */
export function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
