/**
 * `vigil bench proxy` on a small run (two rounds of 20 transactions per client): it runs end to
 * end from the command line — a throwaway PostgreSQL, pgbouncer, the two copy forwarders, two
 * `vigil serve` with a proxy source — and prints well-formed lines of the bench format, one set per
 * target and query mode, where the proxy's stored events cover at least every statement pgbench
 * ran. Numbers are not checked: this machine's speed is not the test's business.
 */

import { assert, assertEquals } from "../../support/assert.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const CLIENTS = 2;
const TRANSACTIONS = 20;
const ROUNDS = 2;

/** `vigil bench ARGS` with the `bench` task's permissions. */
async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-run",
      "--allow-net=127.0.0.1",
      `${ROOT}daemon/main.ts`,
      "bench",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Line {
  bench: string;
  value: number;
  unit: string;
  reference?: { name: string; value: number };
  ratio?: number;
  [extra: string]: unknown;
}

Deno.test("vigil bench proxy runs every target in both query modes and prints bench lines", async () => {
  const run = await bench([
    "proxy",
    "--transactions",
    String(TRANSACTIONS),
    "--clients",
    String(CLIENTS),
    "--jobs",
    "1",
    "--scale",
    "1",
    "--rounds",
    String(ROUNDS),
  ]);
  assertEquals(run.code, 0, `bench proxy failed: ${run.stderr}`);
  const lines: Line[] = run.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  const names = lines.map((l) => l.bench).sort();
  const expected: string[] = [];
  for (const mode of ["simple", "prepared"]) {
    expected.push(`proxy.direct.${mode}.tps`);
    for (const target of ["pgbouncer", "copy", "copy_sync", "observe", "enforce"]) {
      expected.push(`proxy.${target}.${mode}.tps`, `proxy.${target}.${mode}.latency_added_p99`);
    }
    for (const target of ["observe", "enforce"]) expected.push(`proxy.${target}.${mode}.events`);
    for (const target of ["copy", "copy_sync", "observe", "enforce"]) {
      expected.push(`proxy.${target}.${mode}.cpu`);
    }
  }
  assertEquals(names, expected.sort());
  for (const l of lines) {
    const what = JSON.stringify(l);
    assert(typeof l.unit === "string" && l.unit !== "", what);
    assert(Number.isFinite(l.value), what);
    if (l.bench.endsWith(".tps")) {
      assertEquals(l.transactions, ROUNDS * CLIENTS * TRANSACTIONS, what);
      const rounds = l.tps_of_rounds as number[];
      assertEquals(rounds.length, ROUNDS, what);
      assert(
        l.value > 0 && l.value === Math.min(...rounds),
        `the median of two is the lower: ${what}`,
      );
      if (l.reference !== undefined) {
        assert(l.reference.value > 0 && typeof l.reference.name === "string", what);
        assert(Math.abs(l.ratio! - l.value / l.reference.value) < 0.01, what);
      }
      const mode = /\.(observe|enforce)\./.exec(l.bench)?.[1];
      if (mode !== undefined) {
        // Each mode against the forwarder that does its minimum: copy, or copy and sync.
        assertEquals(l.ceiling, mode === "observe" ? "copy" : "copy_sync", what);
        const ceiling = lines.find((c) => c.bench === l.bench.replace(mode, String(l.ceiling)));
        assert(ceiling !== undefined && ceiling.value > 0, what);
        assert(Math.abs(Number(l.ratio_to_ceiling) - l.value / ceiling.value) < 0.01, what);
      }
    }
    if (l.bench.endsWith(".events")) {
      // Seven statements a transaction, besides the sessions' own events.
      assert(Number(l.events) >= 7 * ROUNDS * CLIENTS * TRANSACTIONS, what);
      assert(l.value > 0, what);
    }
    if (l.bench.endsWith(".cpu")) {
      assert(l.value > 0 && Number(l.peak_rss_mib) > 0, what);
    }
  }
});

Deno.test("vigil bench proxy refuses --seconds with --transactions", async () => {
  const run = await bench(["proxy", "--seconds", "1", "--transactions", "1"]);
  assertEquals(run.code, 2, run.stderr);
  assert(run.stderr.includes("not both"), run.stderr);
});
