/**
 * The bench's CPU placement on real processes: pinning a process pins its threads and the
 * processes below it, a shared placement gives them every CPU back, and a command run on a CPU
 * list runs there.
 */

import { cpusOf, onCpus, pinTree } from "../../../../plugins/proxy/bench/placement.ts";
import { assertEquals } from "../../../support/assert.ts";

async function allowed(pid: number): Promise<string> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return /Cpus_allowed_list:\s*(\S+)/.exec(status)![1]!;
}

const several = navigator.hardwareConcurrency >= 2;

Deno.test({
  name: "pinTree pins a process and its children; shared gives every CPU back",
  ignore: !several,
  async fn() {
    // A shell with a child of its own, both waiting.
    const child = new Deno.Command("sh", {
      args: ["-c", "sleep 30 & wait"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let kids: string[] = [];
      for (let i = 0; i < 100 && kids.length === 0; i++) {
        const text = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`);
        kids = text.split(" ").filter((k) => k.trim() !== "");
        if (kids.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(kids.length, 1);
      const kid = Number(kids[0]);
      await pinTree(child.pid, cpusOf("pinned", "middle"));
      assertEquals(await allowed(child.pid), "1");
      assertEquals(await allowed(kid), "1");
      await pinTree(child.pid, cpusOf("shared", "middle"));
      assertEquals(await allowed(kid), cpusOf("shared", "middle"));
      Deno.kill(kid, "SIGTERM");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
    }
  },
});

Deno.test({
  name: "onCpus runs a command on the CPUs given",
  ignore: !several,
  async fn() {
    const [program, args] = onCpus("0", "grep", ["Cpus_allowed_list", "/proc/self/status"]);
    const out = await new Deno.Command(program, { args, stdout: "piped" }).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim().split(/\s+/)[1], "0");
  },
});
