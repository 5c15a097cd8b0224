import { assert, assertEquals } from "../../support/assert.ts";
import { eventLines, runVigil, spawnVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

/** kill -9 rounds: a few in CI, the full count under `deno task soak` (VIGIL_SOAK_ROUNDS). */
const ROUNDS = Number(Deno.env.get("VIGIL_SOAK_ROUNDS") ?? "3");

Deno.test("vigil verify and query work while another process appends", async () => {
  await withTempDir(async (dir) => {
    const writer = spawnVigil(["ingest", "--data", dir, "--source", "live"]);
    const w = writer.stdin.getWriter();
    let seen = 0;
    for (let round = 0; round < 6; round++) {
      await w.write(new TextEncoder().encode(eventLines(5000, round * 5000)));
      const v = await runVigil(["verify", "--data", dir, "--json"]);
      assertEquals(v.code, 0, v.stdout + v.stderr);
      const report = JSON.parse(v.stdout);
      assert(report.ok && report.events >= seen, `verify while appending: ${v.stdout}`);
      seen = report.events;
      const q = await runVigil(["query", "--data", dir, "--role", "alice", "--limit", "100000"]);
      assertEquals(q.code, 0, q.stderr);
    }
    await w.close();
    const out = await writer.output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const final = JSON.parse((await runVigil(["verify", "--data", dir, "--json"])).stdout);
    assertEquals([final.ok, final.events, final.unsigned], [true, 30000, 0]);
    const q = await runVigil(["query", "--data", dir, "--role", "alice", "--limit", "100000"]);
    assertEquals(q.stdout.trim().split("\n").length, 10000);
  });
});

Deno.test(`vigil ingest killed with SIGKILL at random points loses no durable event (${ROUNDS} rounds)`, async () => {
  await withTempDir(async (dir) => {
    let expected = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawnVigil(["ingest", "--data", dir, "--source", "crash"]);
      const w = child.stdin.getWriter();
      const feeding = (async () => {
        try {
          // Paced so that it is still being fed when the kill comes (at most 1.5 s in): a store
          // that appends fast took all 80k events in less, and a kill then found no process.
          for (let i = 0; i < 40; i++) {
            await w.write(new TextEncoder().encode(eventLines(2000, i * 2000)));
            await new Promise((r) => setTimeout(r, 40));
          }
          await w.close();
        } catch {
          // the child was killed mid-write
        }
      })();
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      child.kill("SIGKILL");
      await feeding;
      assertEquals((await child.status).signal, "SIGKILL", `round ${round}: ended before its kill`);
      await child.stdout.cancel();
      await child.stderr.cancel();
      // Reopening recovers a torn tail; the store must verify and not have shrunk.
      const add = await runVigil(["ingest", "--data", dir, "--source", "after"], {
        stdin: eventLines(1),
      });
      assertEquals(add.code, 0, add.stderr);
      const v = JSON.parse((await runVigil(["verify", "--data", dir, "--json"])).stdout);
      assert(v.ok, `round ${round}: ${JSON.stringify(v.problem)}`);
      assert(v.events > expected, `round ${round}: ${v.events} events after ${expected}`);
      expected = v.events;
      const seqs =
        (await runVigil(["query", "--data", dir, "--source", "after", "--limit", "1000"]))
          .stdout.trim().split("\n").map((l) => JSON.parse(l).seq);
      assertEquals(seqs.length, round + 1);
      assertEquals(seqs.at(-1), v.events - 1);
    }
  });
});
