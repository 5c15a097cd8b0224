/**
 * A benchmark program of a source checkout run as a child Deno with the permissions that
 * starting a throwaway PostgreSQL, its clients and `vigil serve` need — which the appliance's own
 * permissions leave out on purpose, so such benchmarks never run inside `vigil` itself.
 */

/** The child's argv for `script` (a path) with `args`. */
export function scriptChildArgs(script: string, args: string[]): string[] {
  return [
    "run",
    "--quiet",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    "--allow-ffi",
    "--allow-sys",
    "--allow-net=127.0.0.1,localhost",
    script,
    ...args,
  ];
}
