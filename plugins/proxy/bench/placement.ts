/**
 * Where the proxy benchmark's processes run on the CPUs. `shared`: anywhere, as the kernel
 * likes (one box doing everything, the bench's default). `pinned`: PostgreSQL and pgbench on the
 * first CPU, the middle tier (pgbouncer, or `vigil serve` with every thread it has) on the
 * second — the product's deployment, the proxy on the Vigil box and the database on another
 * host, modelled on two cores so that pgbouncer and the proxy are compared on equal footing.
 * Pinning goes through util-linux's `taskset`; a process's later children and threads inherit
 * it, so the postmaster's backends forked during a run follow.
 */

/** How the bench's processes share the CPUs. */
export type Placement = "shared" | "pinned";

/** Where `taskset` is. */
const TASKSET = "taskset";

/** The CPUs of each side in `placement`, as taskset lists them. */
export function cpusOf(placement: Placement, side: "database" | "middle"): string {
  if (placement === "shared") return `0-${navigator.hardwareConcurrency - 1}`;
  return side === "database" ? "0" : "1";
}

/** Refuses a pinned run on a machine with fewer than two CPUs. */
export function checkPlacement(placement: Placement): void {
  if (placement === "pinned" && navigator.hardwareConcurrency < 2) {
    throw new RangeError(
      `A pinned run needs two CPUs, this machine has ${navigator.hardwareConcurrency}`,
    );
  }
}

/** Sets the CPUs of `pid`, every thread of it and every process below it. */
export async function pinTree(pid: number, cpus: string): Promise<void> {
  for (const p of await descendants(pid)) {
    const out = await new Deno.Command(TASKSET, {
      args: ["-a", "-p", "-c", cpus, String(p)],
      stdout: "null",
      stderr: "piped",
    }).output();
    // A backend that exited between listing and pinning is no failure.
    const text = new TextDecoder().decode(out.stderr);
    if (!out.success && !/No such process|failed to/.test(text)) {
      throw new Error(`taskset -a -p -c ${cpus} ${p} failed: ${text}`);
    }
  }
}

/** A command line run on `cpus`. */
export function onCpus(cpus: string, program: string, args: string[]): [string, string[]] {
  return [TASKSET, ["-c", cpus, program, ...args]];
}

/** `pid` and the processes below it, from /proc's children lists. */
async function descendants(pid: number): Promise<number[]> {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[] = [];
    try {
      for await (const t of Deno.readDir(`/proc/${all[i]}/task`)) tasks.push(t.name);
    } catch {
      tasks = [];
    }
    for (const t of tasks) {
      let text = "";
      try {
        text = await Deno.readTextFile(`/proc/${all[i]}/task/${t}/children`);
      } catch { /* gone */ }
      for (const c of text.split(" ")) if (c.trim() !== "") all.push(Number(c));
    }
  }
  return all;
}
