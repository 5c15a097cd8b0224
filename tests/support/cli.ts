/**
 * Runs the real `vigil` command line in a child process, with the same narrow permissions the
 * `vigil` task grants, and collects its exit code and output.
 */

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = `${ROOT}/daemon/main.ts`;

/** What a finished `vigil` run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The argv that starts `vigil` with the permissions of the `vigil` task. */
export function vigilArgv(args: string[]): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    `--allow-ffi=/usr/lib/x86_64-linux-gnu/libcrypto.so.3,${ROOT}/.tools/native/libvigil_hash.so`,
    "--allow-net=127.0.0.1,localhost",
    "--allow-sys=statfs",
    MAIN,
    ...args,
  ];
}

/** Runs `vigil ARGS` to completion, feeding `stdin` if given. */
export async function runVigil(
  args: string[],
  opts: { stdin?: string | Uint8Array } = {},
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: vigilArgv(args),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    );
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts `vigil ARGS` with a piped stdin, for tests that write to it or kill it. */
export function spawnVigil(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: vigilArgv(args),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** JSON lines of `n` valid events, numbered from `from`. */
export function eventLines(n: number, from = 0): string {
  let s = "";
  for (let i = from; i < from + n; i++) {
    s += JSON.stringify({
      ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 86400)).toISOString(),
      kind: "session",
      role: ["alice", "bob", "carol"][i % 3],
      db: "billing",
      object: `public.t${i % 4}`,
      command: i % 2 ? "SELECT" : "UPDATE",
      statement: `SELECT * FROM public.t${i % 4} WHERE id = ${i}`,
    }) + "\n";
  }
  return s;
}
