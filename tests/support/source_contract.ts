/**
 * The contract every source passes (as Hono's routers all run one common test): it emits what
 * upstream produced, stops promptly when aborted, and after a stop resumes from its last
 * durable position with nothing lost and nothing stored twice; the gauges it reports are the
 * ones its plugin declares. `tests/plugins/contract_test.ts` calls `sourceContract()` for
 * every registered plugin, with the fixture of the plugin's {@link ContractHarness}
 * (`tests/plugins/<type>/contract_harness.ts`), which knows how to make its upstream produce
 * records.
 */

import type { AuditEvent } from "../../daemon/event/model.ts";
import { runSource } from "../../daemon/pipeline.ts";
import type { Source } from "../../daemon/source.ts";
import { readLog } from "../../daemon/store/log_reader.ts";
import { Store } from "../../daemon/store/store.ts";
import { assert, assertEquals, assertEventually } from "./assert.ts";
import { withTempDir } from "./store.ts";

/** What the contract needs to know about one source. */
export interface SourceFixture {
  /** A new source instance, as the supervisor would create on each (re)start. */
  create(): Source;
  /**
   * Upstream produces only while the source runs (a proxy: clients reach the server only
   * through it). The contract then produces once the source runs, never while it is stopped.
   */
  live?: boolean;
  /** Makes upstream produce `n` records, identified `from` .. `from + n - 1`. */
  produce(n: number, from: number): Promise<void>;
  /** The produced record's identity, or null for events the source adds itself (heartbeats). */
  identity(ev: AuditEvent): string | null;
  /** Stops upstream and removes what the fixture made. */
  close(): Promise<void>;
}

/**
 * What a source plugin gives the contract test, exported as `HARNESS` from
 * `tests/plugins/<type>/contract_harness.ts`; a registered plugin without one fails the test.
 */
export interface ContractHarness {
  /** A valid `[[sources]]` table of the type (with `name` and `type`); nothing is contacted. */
  table(): Record<string, unknown>;
  /**
   * Tables whose probe the test runs, each holding its `secret` where the source would use it
   * (a password file, a log line with a password); the probe's lines must never show it.
   * `close` removes what they need.
   */
  secretProbes(): Promise<{
    probes: { table: Record<string, unknown>; secret: string }[];
    close(): Promise<void>;
  }>;
  /** The upstream of the run-time contract; the source is built by the plugin from a table. */
  fixture(): Promise<SourceFixture>;
}

/** Gauges the pipeline reports for every source, whatever its plugin declares. */
export const CORE_GAUGES: readonly string[] = ["redacted_events"];

const NAME = "contract";

async function identities(dir: string, fx: SourceFixture): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readLog(dir)) {
    if (r.event.source !== NAME) continue;
    const id = fx.identity(r.event);
    if (id !== null) out.push(id);
  }
  return out;
}

async function runUntil(
  store: Store,
  fx: SourceFixture,
  dir: string,
  want: number,
  gauges?: Set<string>,
  during?: () => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const running = runSource(store, fx.create(), {
    name: NAME,
    signal: ac.signal,
    ...(gauges === undefined ? {} : { gauge: (g: string) => void gauges.add(g) }),
  });
  let failed: unknown = null;
  running.catch((e) => (failed = e));
  try {
    await during?.();
    await assertEventually(async () => {
      if (failed) throw failed;
      return (await identities(dir, fx)).length >= want;
    }, { timeoutMs: 30_000, message: `${want} records stored` });
  } finally {
    ac.abort();
    const stopped = await Promise.race([
      running.then(() => true, () => true),
      new Promise((r) => setTimeout(() => r(false), 10_000)),
    ]);
    assert(stopped, "the source must stop within 10 s of its abort signal");
  }
}

/**
 * Registers the contract tests for a source. With `gauges` (the plugin's declared ones), every
 * gauge the source reports must be among them or the pipeline's own.
 */
export function sourceContract(
  label: string,
  setup: () => Promise<SourceFixture>,
  opts: { gauges?: readonly string[] } = {},
): void {
  Deno.test(`${label}: emits what upstream produced and stops on abort`, async () => {
    const fx = await setup();
    try {
      await withTempDir(async (dir) => {
        const store = await Store.open(dir, { checkpointIntervalMs: 0 });
        const reported = new Set<string>();
        try {
          const produce = () => fx.produce(20, 0);
          if (!fx.live) await produce();
          await runUntil(store, fx, dir, 20, reported, fx.live ? produce : undefined);
        } finally {
          await store.close();
        }
        const ids = await identities(dir, fx);
        assertEquals(ids.slice().sort(), Array.from({ length: 20 }, (_, i) => String(i)).sort());
        if (opts.gauges !== undefined) {
          const declared = new Set([...opts.gauges, ...CORE_GAUGES]);
          const stray = [...reported].filter((g) => !declared.has(g));
          assertEquals(stray, [], "gauges reported but not declared by the plugin");
        }
      });
    } finally {
      await fx.close();
    }
  });

  Deno.test(`${label}: resumes from its last durable position without loss or duplicates`, async () => {
    const fx = await setup();
    try {
      await withTempDir(async (dir) => {
        let store = await Store.open(dir, { checkpointIntervalMs: 0 });
        const first = () => fx.produce(15, 0);
        if (!fx.live) await first();
        await runUntil(store, fx, dir, 15, undefined, fx.live ? first : undefined);
        await store.close();
        const second = () => fx.produce(25, 15);
        if (!fx.live) await second(); // while the source is stopped
        store = await Store.open(dir, { checkpointIntervalMs: 0 });
        try {
          await runUntil(store, fx, dir, 40, undefined, fx.live ? second : undefined);
        } finally {
          await store.close();
        }
        const ids = await identities(dir, fx);
        assertEquals(ids.length, new Set(ids).size, "no record stored twice");
        assertEquals(ids.slice().sort(), Array.from({ length: 40 }, (_, i) => String(i)).sort());
      });
    } finally {
      await fx.close();
    }
  });
}
