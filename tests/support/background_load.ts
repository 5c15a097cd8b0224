/**
 * Heavy load beside a crash test, for `deno task soak`: races between a source, the pipeline
 * and the store showed only under the whole parallel suite's load (slow fdatasync, starved
 * event loops), never with a test run alone. With `VIGIL_SOAK_LOAD` set, {@link backgroundLoad}
 * starts more PostgreSQL clusters each under a pgbench TPC-B run and a disk writer that
 * fdatasyncs large files in a loop; disposing of it stops and removes all of it. Without the
 * variable it does nothing, so the same tests run quickly in CI.
 *
 * Everything stays on this machine: the clusters listen on 127.0.0.1, pgbench talks to them,
 * the writer writes a temp dir. Every loop is bounded: pgbench by `-T`, the writer by a count.
 */

import { type PgCluster, startPostgres } from "./postgres.ts";
import { pgbench } from "./pgbench.ts";

/** What runs; `describe()` says it for the test's summary line. */
export interface BackgroundLoad extends AsyncDisposable {
  describe(): string;
}

/** True when the soak asked for load (`VIGIL_SOAK_LOAD=1`). */
export function loadRequested(): boolean {
  const v = Deno.env.get("VIGIL_SOAK_LOAD");
  return v !== undefined && v !== "" && v !== "0";
}

/**
 * Starts `clusters` PostgreSQL clusters under pgbench (4 clients each) and `writers` disk
 * writers for at most `seconds`, when load was requested; otherwise returns a no-op.
 */
export async function backgroundLoad(
  opts: { clusters?: number; writers?: number; seconds: number },
): Promise<BackgroundLoad> {
  if (!loadRequested()) {
    return { describe: () => "no background load", [Symbol.asyncDispose]: async () => {} };
  }
  const clusters: PgCluster[] = [];
  const children: Deno.ChildProcess[] = [];
  const dir = await Deno.makeTempDir({ prefix: "vigil-load-" });
  const stop = async (): Promise<void> => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch {
        // already exited
      }
      await c.status;
    }
    await Promise.all(clusters.map((c) => c.close()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const n = opts.clusters ?? 2;
    for (let i = 0; i < n; i++) clusters.push(await startPostgres());
    for (const pg of clusters) {
      const init = await pgbench(pg, ["-i", "-s", "2", "-q"]).output();
      if (!init.success) throw new Error(`pgbench -i: ${new TextDecoder().decode(init.stderr)}`);
      children.push(
        pgbench(pg, ["-c", "4", "-j", "2", "-T", String(opts.seconds), "-n"], "null").spawn(),
      );
    }
    for (let w = 0; w < (opts.writers ?? 1); w++) {
      // 64 MiB written and fdatasynced per file, as many times as fit in the time given.
      const rounds = Math.max(1, Math.ceil(opts.seconds / 2));
      children.push(
        new Deno.Command("bash", {
          args: [
            "-c",
            `for i in $(seq ${rounds}); do dd if=/dev/zero of="$1" bs=1M count=64 ` +
            `conv=fdatasync status=none; done`,
            "writer",
            `${dir}/writer-${w}`,
          ],
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const text = `${clusters.length} PostgreSQL clusters under pgbench, ${opts.writers ?? 1} ` +
    `fdatasync disk writers`;
  return { describe: () => text, [Symbol.asyncDispose]: stop };
}
