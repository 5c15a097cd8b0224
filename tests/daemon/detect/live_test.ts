/**
 * `LiveDetection` on a real store, alert store and snapshot file: a restart resumes from the
 * snapshot and reads only what came after it; a snapshot deleted or damaged is rebuilt from the
 * log in the background and then finds what `vigil detect` finds; an alert goes to a channel
 * once, whatever the restarts and rebuilds; a detector that throws, or an engine that stops,
 * is a health failure on `/healthz`.
 */

import { alertsPath, AlertStore } from "../../../daemon/detect/alert_store.ts";
import { detectRange } from "../../../daemon/detect/batch.ts";
import { webhookChannel } from "../../../daemon/detect/channel_webhook.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import type { Detector } from "../../../daemon/detect/detector.ts";
import { detectorsFor } from "../../../daemon/detect/detectors.ts";
import { type DetectStatus, LiveDetection, type LiveOptions } from "../../../daemon/detect/live.ts";
import { snapshotPath } from "../../../daemon/detect/snapshot.ts";
import type { NewEvent } from "../../../daemon/event/model.ts";
import { healthRoutes } from "../../../daemon/serve/http.ts";
import { StatusBoard } from "../../../daemon/serve/status_board.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { generateScenario, SCENARIO_START, SENSITIVE } from "../../support/scenario.ts";
import { withTempDir } from "../../support/store.ts";
import { GAP_COMMANDS } from "../../../plugins/mod.ts";

const cfg = () => ({ ...defaultDetectConfig(), sensitive_objects: SENSITIVE });
const DAY = 86_400_000_000;

/** One run of the daemon's detection: open store and alerts, start, `during`, stop, close. */
async function run(
  dir: string,
  opts: {
    append?: NewEvent[];
    live?: Partial<LiveOptions>;
    during?: (live: LiveDetection, store: Store, alerts: AlertStore) => Promise<void>;
  } = {},
): Promise<{ seen: DetectStatus[]; last: DetectStatus; fed: number }> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  const alerts = AlertStore.open(alertsPath(dir));
  try {
    if (opts.append) await store.append({ source: "shop-log", events: opts.append });
    const live = LiveDetection.start(store, {
      config: cfg(),
      alerts,
      gapCommands: GAP_COMMANDS,
      ...opts.live,
    });
    // What /healthz would have shown while it caught up: sampled every turn of the event loop.
    const seen: DetectStatus[] = [];
    const sampler = setInterval(() => seen.push(live.status()), 0);
    await live.current;
    clearInterval(sampler);
    seen.push(live.status());
    await opts.during?.(live, store, alerts);
    const fed = live.engine?.fed ?? 0;
    await live.stop();
    return { seen, last: live.status(), fed };
  } finally {
    alerts.close();
    await store.close();
  }
}

/** The alerts of a rebuilt or resumed data directory against `vigil detect`'s over its log. */
async function assertSameAsDetect(dir: string): Promise<number> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  const alerts = AlertStore.open(alertsPath(dir));
  try {
    // `vigil detect` closes the windows still open at the end; the daemon keeps them open.
    const live = LiveDetection.start(store, { config: cfg(), alerts });
    await live.current;
    assertEquals(live.status().state, "running");
    live.engine!.flush();
    await live.engine!.drain();
    const got = alerts.list();
    const want = (await detectRange(dir, cfg())).alerts;
    assertEquals(got, want);
    assert(got.length >= 8, `only ${got.length} alerts`);
    // Flushed: this state is not the daemon's to keep.
    await Deno.remove(snapshotPath(dir)).catch(() => {});
    return got.length;
  } finally {
    alerts.close();
    await store.close();
  }
}

/** The alerts stored in a data directory, as the web UI lists them. */
function listAlerts(dir: string): unknown[] {
  const alerts = AlertStore.open(alertsPath(dir), { readonly: true });
  try {
    return alerts.list();
  } finally {
    alerts.close();
  }
}

/** A webhook receiver on loopback: the keys of the alerts POSTed to it. */
function receiver(): { url: string; keys: string[]; close: () => Promise<void> } {
  const keys: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    keys.push((await r.json()).alert.key);
    return new Response("ok");
  });
  return { url: `http://127.0.0.1:${server.addr.port}/hook`, keys, close: () => server.shutdown() };
}

const events = generateScenario({ seed: 5, days: 14 }).events;
const FIRST = Math.floor(events.length * 0.6);

Deno.test("LiveDetection rebuilds a deleted, cut-short or byte-flipped snapshot in the background, then finds what vigil detect finds", async () => {
  for (const damage of ["deleted", "byte flipped", "cut short"]) {
    await withTempDir(async (dir) => {
      const first = await run(dir, { append: events.slice(0, FIRST) });
      assertEquals(first.last.reason, "no snapshot");
      const good = await Deno.readFile(snapshotPath(dir));
      if (damage === "deleted") await Deno.remove(snapshotPath(dir));
      if (damage === "cut short") await Deno.writeFile(snapshotPath(dir), good.slice(0, 9000));
      if (damage === "byte flipped") {
        good[Math.floor(good.length / 3)]! ^= 0x10;
        await Deno.writeFile(snapshotPath(dir), good);
      }
      const second = await run(dir, { append: events.slice(FIRST) });
      assertMatch(second.last.reason ?? "", damage === "deleted" ? /no snapshot/ : /damaged/);
      // It said so while it worked, with progress, and was healthy meanwhile.
      const rebuilding = second.seen.filter((s) => s.state === "rebuilding");
      assert(
        rebuilding.some((s) => s.progress! > 0 && s.progress! < 1),
        `no progress seen: ${JSON.stringify(second.seen.map((s) => [s.state, s.progress]))}`,
      );
      assert(second.seen.every((s) => s.healthy));
      assertEquals(second.last.state, "stopped");
      assertEquals(second.last.read, events.length);
      assertEquals(second.last.snapshot?.seq, events.length - 1);
      await assertSameAsDetect(dir);
    });
  }
});

Deno.test("LiveDetection rebuilds a sound snapshot of another log: the event at its seq tells", async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [`${dir}/a`, `${dir}/b`];
    await run(a, { append: events.slice(0, FIRST) });
    // Another store, as long, of other events: the snapshot and its alert store copied over.
    const other = generateScenario({ seed: 6, days: 14 }).events;
    const store = await Store.open(b, { checkpointIntervalMs: 0 });
    await store.append({ source: "shop-log", events: other });
    await store.close();
    for (const f of [snapshotPath(a), alertsPath(a)]) await Deno.copyFile(f, f.replace(a, b));
    const second = await run(b);
    assertMatch(second.last.reason ?? "", new RegExp(`does not match the log at seq ${FIRST - 1}`));
    assertEquals(second.last.read, other.length);
    await assertSameAsDetect(b);
  });
});

Deno.test("LiveDetection after a restart with a sound snapshot reads only the events after its seq", async () => {
  await withTempDir(async (dir) => {
    const first = await run(dir, { append: events.slice(0, FIRST) });
    assertEquals(first.fed, FIRST);
    assertEquals(first.last.snapshot?.seq, FIRST - 1);
    const second = await run(dir, { append: events.slice(FIRST) });
    assertEquals(second.last.reason, null);
    assertEquals(second.fed, events.length - FIRST);
    assertEquals(second.last.read, events.length - FIRST);
    assert(second.seen.some((s) => s.state === "catching_up"), "never said it caught up");
    // A restart with nothing new reads nothing.
    const third = await run(dir);
    assertEquals([third.fed, third.last.read, third.last.reason], [0, 0, null]);
    // Resuming found what one pass over the whole log finds.
    await assertSameAsDetect(dir);
  });
});

Deno.test("LiveDetection sends an alert once: not again after a restart, a crash after a snapshot, or a rebuild", async () => {
  const hook = receiver();
  try {
    await withTempDir(async (dir) => {
      const channels = () => [
        webhookChannel({ url: hook.url, retries: 0, backoff_ms: 1, min_severity: "medium" }),
      ];
      const gap = (day: number): NewEvent => ({
        ts: SCENARIO_START + day * DAY,
        source: "wal",
        kind: "system",
        command: "WAL_GAP",
      });
      await run(dir, {
        append: [...events.slice(0, FIRST), gap(3)],
        live: { channels: channels() },
      });
      const sent = hook.keys.length;
      assert(sent >= 3, `only ${sent} alerts sent`);
      assertEquals(new Set(hook.keys).size, sent);
      const early = await Deno.readFile(snapshotPath(dir));

      // A restart: nothing new, nothing sent.
      await run(dir, { live: { channels: channels() } });
      assertEquals(hook.keys.length, sent);
      // New events raise new alerts, and only those are sent.
      await run(dir, { append: [...events.slice(FIRST), gap(13)], live: { channels: channels() } });
      const later = hook.keys.length;
      assert(later > sent, "nothing new was sent");
      assertEquals(new Set(hook.keys).size, later);
      const stored = listAlerts(dir);

      // A crash after the early snapshot: the alerts found since are found again, not sent.
      await Deno.writeFile(snapshotPath(dir), early);
      const crashed = await run(dir, { live: { channels: channels() } });
      assertEquals(crashed.last.reason, null);
      assert(crashed.fed > 0);
      assertEquals(listAlerts(dir), stored);
      // A rebuild from the log finds them all again, and sends none.
      await Deno.remove(snapshotPath(dir));
      const rebuilt = await run(dir, { live: { channels: channels() } });
      assertEquals(rebuilt.last.reason, "no snapshot");
      assertEquals(hook.keys.length, later);
      assertEquals(listAlerts(dir), stored);
    });
  } finally {
    await hook.close();
  }
});

Deno.test("LiveDetection: a detector that throws is taken out and is a health failure, across restarts", async () => {
  await withTempDir(async (dir) => {
    let calls = 0;
    const broken: Detector = {
      name: "broken_rule",
      event() {
        if (++calls === 500) throw new TypeError("cannot read properties of undefined");
        return [];
      },
    };
    const board = new StatusBoard({ version: "test", dataDir: dir });
    const health = async () => {
      const r = await healthRoutes(board).request("/healthz");
      return [r.status, (await r.json()).detection] as const;
    };
    const first = await run(dir, {
      append: events.slice(0, FIRST),
      live: { detectors: [...detectorsFor(cfg()), broken] },
      during: async (live, _store, alerts) => {
        board.watchDetection(() => live.status());
        const [code, detection] = await health();
        assertEquals(code, 503);
        assertEquals(detection.healthy, false);
        assertMatch(detection.errors.join("\n"), /broken_rule failed at seq 499.*undefined/);
        // The others went on.
        assert(alerts.list().length >= 5);
      },
    });
    assertEquals(calls, 500);
    assertEquals(first.last.healthy, false);
    // The failure is part of the state: a restart does not hide it.
    const second = await run(dir, { live: { detectors: [...detectorsFor(cfg()), broken] } });
    assertEquals(second.last.healthy, false);
    assertEquals(calls, 500);
  });
});

Deno.test("LiveDetection: an engine that cannot go on is a health failure; a rebuild is not", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    const alerts = AlertStore.open(alertsPath(dir));
    try {
      await store.append({ source: "shop-log", events: events.slice(0, 3000) });
      const board = new StatusBoard({ version: "test", dataDir: dir });
      const live = LiveDetection.start(store, { config: cfg(), alerts });
      board.watchDetection(() => live.status());
      const health = async () => {
        const r = await healthRoutes(board).request("/healthz");
        return [r.status, (await r.json()).detection] as const;
      };
      await live.current;
      const [ok, rebuilt] = await health();
      assertEquals([ok, rebuilt.state, rebuilt.reason], [200, "running", "no snapshot"]);
      // The alert store goes away under the engine: the next batch cannot be taken in.
      alerts.close();
      await store.append({ source: "shop-log", events: events.slice(3000, 3100) });
      const [code, failed] = await health();
      assertEquals([code, failed.state, failed.healthy], [503, "failed", false]);
      assertMatch(failed.errors[0], /detection stopped at seq 2999/);
      await live.stop();
      // No snapshot of a state that may be half fed.
      assertEquals(live.status().snapshot, null);
      await Deno.stat(snapshotPath(dir)).then(
        () => assert(false, "a snapshot was written"),
        () => {},
      );
    } finally {
      await store.close();
    }
  });
});

/**
 * Starts detection over the whole log with no snapshot, runs `midway` on it, stops it, and checks
 * that it had read part of the log, saved where it got to, and that the next start resumes there
 * and then finds what `vigil detect` finds.
 */
async function stopMidwayAndResume(
  dir: string,
  midway: (live: LiveDetection) => Promise<void>,
): Promise<void> {
  const store = await Store.open(dir, { checkpointIntervalMs: 0 });
  const alerts = AlertStore.open(alertsPath(dir));
  let at: DetectStatus;
  try {
    await store.append({ source: "shop-log", events });
    const live = LiveDetection.start(store, { config: cfg(), alerts, gapCommands: GAP_COMMANDS });
    await midway(live);
    await live.stop();
    at = live.status();
  } finally {
    alerts.close();
    await store.close();
  }
  assertEquals(at.state, "stopped");
  assert(at.read > 0 && at.read < events.length, `stopped after ${at.read} of ${events.length}`);
  // Its progress is saved: a snapshot at the seq it had reached.
  assertEquals(at.snapshot?.seq, at.seq);
  const second = await run(dir);
  assertEquals(second.last.reason, null, "resumed from the snapshot, not rebuilt");
  assertEquals(second.last.read, events.length - 1 - at.seq);
  await assertSameAsDetect(dir);
}

Deno.test("LiveDetection stopped during a rebuild saves where it got to; the next start goes on from there", async () => {
  await withTempDir((dir) =>
    stopMidwayAndResume(dir, async (live) => {
      // Stopped as soon as it has read part of the log (it gives the event loop turns as it reads).
      while (live.status().read === 0) await new Promise((r) => setTimeout(r, 0));
      assertEquals(live.status().state, "rebuilding");
    })
  );
});

/** Until a held catch-up says it waits, or detection is current (a hold that did not hold). */
async function untilHeldOrCurrent(live: LiveDetection): Promise<void> {
  const done = (s: DetectStatus): boolean => s.waiting !== null || s.state === "running";
  while (!done(live.status())) await new Promise((r) => setTimeout(r, 0));
}

Deno.test("LiveDetection held by the verification at start waits between two chunks, misses nothing, then finds what vigil detect finds", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    const alerts = AlertStore.open(alertsPath(dir));
    try {
      await store.append({ source: "shop-log", events: events.slice(0, FIRST) });
      const live = LiveDetection.start(store, { config: cfg(), alerts, gapCommands: GAP_COMMANDS });
      const verification = Promise.withResolvers<void>();
      assert(live.holdFor(verification.promise, "the store verification at start"));
      await untilHeldOrCurrent(live);
      const held = live.status();
      assertEquals([held.state, held.waiting], ["rebuilding", "the store verification at start"]);
      assert(held.read > 0 && held.read < FIRST, `held after ${held.read} of ${FIRST}`);
      // Batches made durable while it waits stay in the log: none is fed now, none is lost.
      await store.append({ source: "shop-log", events: events.slice(FIRST) });
      // A second hold made while it waits (a download): the first one's end does not free it.
      const download = Promise.withResolvers<void>();
      assert(live.holdFor(download.promise, "a bundle download"));
      await new Promise((r) => setTimeout(r, 200));
      assertEquals([live.status().read, live.status().seq], [held.read, held.seq]);
      verification.resolve();
      await new Promise((r) => setTimeout(r, 200));
      const still = live.status();
      assertEquals([still.read, still.waiting], [held.read, "a bundle download"]);
      download.reject(new Error("the browser went away")); // a failed one ends the hold as well
      await live.current;
      const done = live.status();
      assertEquals([done.state, done.waiting, done.read], ["running", null, events.length]);
      // Once current, there is no catch-up left to hold.
      assertEquals(live.holdFor(new Promise(() => {}), "the store verification at start"), false);
      await live.stop();
    } finally {
      alerts.close();
      await store.close();
    }
    await assertSameAsDetect(dir);
  });
});

Deno.test("LiveDetection stopped while held stops at once and saves where it got to", async () => {
  await withTempDir((dir) =>
    stopMidwayAndResume(dir, async (live) => {
      // A verification that never ends: the stop must not wait for it.
      assert(live.holdFor(new Promise(() => {}), "the store verification at start"));
      await untilHeldOrCurrent(live);
      assertEquals(live.status().waiting, "the store verification at start");
    })
  );
});
