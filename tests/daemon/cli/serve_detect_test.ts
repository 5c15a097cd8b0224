/**
 * Detection inside a real `vigil serve` across restarts: the first start rebuilds the state
 * from the log and says so on `/healthz`; a restart loads the snapshot written at stop and
 * reads only the few events after it; a deleted, byte-flipped or cut-short snapshot is rebuilt
 * and gives the alerts `vigil detect` gives; and no alert reaches the webhook twice.
 */

import { snapshotPath } from "../../../daemon/detect/snapshot.ts";
import type { NewEvent } from "../../../daemon/event/model.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";
import { generateScenario, SCENARIO_START, SENSITIVE } from "../../support/scenario.ts";
import { startServe } from "../../support/serve_child.ts";
import { withTempDir } from "../../support/store.ts";

interface Detection {
  state: string;
  healthy: boolean;
  seq: number;
  reason: string | null;
  read: number;
  snapshot: { seq: number } | null;
}

/** Runs `vigil serve` until detection is current, returns what `/healthz` said, stops it. */
async function serveOnce(file: string): Promise<Detection> {
  const serving = await startServe(file);
  try {
    let detection: Detection | undefined;
    await assertEventually(async () => {
      assert(!serving.exited, `serve exited:\n${serving.lines.join("\n")}`);
      // A refused or reset connection is retried: the next turn tells whether serve exited.
      const r = await fetch(`http://${serving.listen}/healthz`).catch(() => null);
      if (r === null) return false;
      const h = await r.json();
      detection = h.detection;
      return r.status === 200 && detection?.state === "running";
    }, { timeoutMs: 60_000, intervalMs: 100, message: "detection never became current" });
    await serving.stop();
    return detection!;
  } finally {
    await serving.kill();
  }
}

type Listed = { id: number; key: string; rule: string; count: number; seqs: number[] };

async function listAlerts(data: string): Promise<Listed[]> {
  const r = await runVigil(["alerts", "--data", data]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

const brief = (a: Listed[]) => a.map((x) => [x.id, x.key, x.rule, x.count, x.seqs]);

Deno.test("vigil serve resumes detection from its snapshot, rebuilds a lost or damaged one, and sends each alert once", async () => {
  const posted: string[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    posted.push((await r.json()).alert.key);
    return new Response("ok");
  });
  try {
    await withTempDir(async (dir) => {
      const data = `${dir}/data`;
      const gap: NewEvent = {
        ts: SCENARIO_START + 86_400_000_000,
        source: "wal",
        kind: "system",
        command: "WAL_GAP",
      };
      const store = await Store.open(data, { checkpointIntervalMs: 0 });
      await store.append({
        source: "shop-log",
        events: [...generateScenario({ seed: 5, days: 14 }).events, gap],
      });
      const logged = store.size;
      await store.close();
      const file = `${dir}/vigil.toml`;
      await Deno.writeTextFile(
        file,
        [
          `data_dir = "${data}"`,
          "[web]",
          'listen = "127.0.0.1:0"',
          "[detect]",
          `sensitive_objects = ${JSON.stringify(SENSITIVE)}`,
          "seed = 3",
          "[detect.webhook]",
          `url = "http://127.0.0.1:${hook.addr.port}/hook"`,
          "retries = 0",
          'min_severity = "low"',
        ].join("\n") + "\n",
      );

      // First start: no snapshot, the whole log is read, every alert is sent once.
      const first = await serveOnce(file);
      assertEquals([first.reason, first.healthy], ["no snapshot", true]);
      assert(first.read >= logged, `read ${first.read} of ${logged}`);
      const alerts = await listAlerts(data);
      assert(alerts.length >= 8, `only ${alerts.length} alerts`);
      assertEquals(posted.length, alerts.length);
      assertEquals(new Set(posted).size, posted.length);

      // A restart: the snapshot of the clean stop, then only the daemon's own stop and start.
      const second = await serveOnce(file);
      assertEquals(second.reason, null);
      assert(second.snapshot !== null && second.snapshot.seq >= logged, JSON.stringify(second));
      assert(second.read <= 2, `read ${second.read} events from the log`);
      assertEquals(posted.length, alerts.length, "alerts were sent again after a restart");
      assertEquals(brief(await listAlerts(data)), brief(alerts));

      // A lost or damaged snapshot is rebuilt from the log: the same alerts, none sent again.
      const damages: [string, (b: Uint8Array) => Uint8Array | null, RegExp][] = [
        ["deleted", () => null, /^no snapshot$/],
        ["byte flipped", (b) => (b[Math.floor(b.length / 2)]! ^= 0x01, b), /damaged: checksum/],
        ["cut short", (b) => b.slice(0, b.length - 100), /damaged/],
      ];
      for (const [what, damage, reason] of damages) {
        const bytes = damage(await Deno.readFile(snapshotPath(data)));
        if (bytes === null) await Deno.remove(snapshotPath(data));
        else await Deno.writeFile(snapshotPath(data), bytes);
        const rebuilt = await serveOnce(file);
        assertMatch(rebuilt.reason ?? "", reason, what);
        assert(rebuilt.read > logged, `${what}: read ${rebuilt.read}`);
        assertEquals(posted.length, alerts.length, `${what}: alerts were sent again`);
        assertEquals(brief(await listAlerts(data)), brief(alerts), what);
      }

      // And they are the alerts `vigil detect` finds over the same log.
      const detect = await runVigil(["detect", "--data", data, "--config", file]);
      assertEquals(detect.code, 0, detect.stderr);
      assertEquals(brief(await listAlerts(data)), brief(alerts));
    });
  } finally {
    await hook.shutdown();
  }
});
