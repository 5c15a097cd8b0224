/**
 * The appliance as an admin gets it: `scripts/package.sh` builds the .deb (into a temp dir, so
 * test files never share a half-written build), `dpkg -x` unpacks it into a scratch root, and
 * processes are started from that root's `usr/bin/vigil`. Helpers to follow a child's log
 * lines and to ask /healthz.
 */

import { assertEventually } from "../support/assert.ts";
import { streamLines } from "../support/serve_child.ts";
export { freePort } from "../support/ports.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A .deb unpacked into a scratch root. */
export interface Installed {
  deb: string;
  /** The scratch root: `${root}/usr/bin/vigil` is the installed command. */
  root: string;
  /** A scratch directory for configs and data dirs. */
  work: string;
  vigil: string;
  cleanup(): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (o.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${o.code}:\n${dec.decode(o.stderr)}`);
  }
  return dec.decode(o.stdout);
}

/** Builds the .deb with scripts/package.sh and unpacks it with `dpkg -x`. */
export async function buildAndInstall(): Promise<Installed> {
  const base = await Deno.makeTempDir({ prefix: "vigil-deb-test-" });
  const cleanup = () => Deno.remove(base, { recursive: true });
  try {
    const out = await run("bash", [`${ROOT}/scripts/package.sh`, `${base}/out`]);
    const deb = out.trim().split("\n").pop()!;
    const root = `${base}/root`;
    const work = `${base}/work`;
    await Deno.mkdir(work);
    await run("dpkg", ["-x", deb, root]);
    return { deb, root, work, vigil: `${root}/usr/bin/vigil`, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Runs a command to completion; never throws on a non-zero exit. */
export async function output(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** A running child whose stderr lines are collected as they come. */
export interface Running {
  child: Deno.ChildProcess;
  lines: string[];
  /** Resolves with the exit code once the child has exited and its output is read. */
  exited: Promise<number>;
}

/** Starts a child with piped stdout and stderr, both collected into `lines`. */
export function start(cmd: string, args: string[], env: Record<string, string> = {}): Running {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const exited = Promise.all([
    streamLines(child.stdout, lines).done,
    streamLines(child.stderr, lines).done,
    child.status,
  ])
    .then(([, , s]) => s.code);
  return { child, lines, exited };
}

/** Stops a child if it still runs and waits for it; for `finally` blocks. */
export async function stop(r: Running): Promise<number> {
  try {
    r.child.kill("SIGTERM");
  } catch {
    // already exited
  }
  return await r.exited;
}

/** Waits for a collected line that matches and returns it. */
export function waitForLine(r: Running, re: RegExp, timeoutMs = 30_000): Promise<string> {
  return assertEventually(() => r.lines.find((l) => re.test(l)), {
    timeoutMs,
    message: `a line matching ${re} (got:\n${r.lines.join("\n")}\n)`,
  });
}

/** GET /healthz: status code and parsed body. */
export async function healthz(port: number): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: await res.json() as HealthBody };
}

/** The part of /healthz the tests read. */
export interface HealthBody {
  status: string;
  version: string;
  sources: { name: string; healthy?: boolean; state?: string; error?: string | null }[];
}

/** A minimal config: a data dir and a loopback listen address, then `extra`. */
export function testConfig(dataDir: string, port: number, extra = ""): string {
  return `data_dir = "${dataDir}"\n\n[web]\nlisten = "127.0.0.1:${port}"\n\n${extra}`;
}
