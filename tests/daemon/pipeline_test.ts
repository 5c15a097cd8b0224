import type { AuditEvent, NewEvent } from "../../daemon/event/model.ts";
import { runSource, type SourceStore } from "../../daemon/pipeline.ts";
import { type Source, type SourceContext, SourceError } from "../../daemon/source.ts";
import { Store } from "../../daemon/store/store.ts";
import { readLog } from "../../daemon/store/log_reader.ts";
import { assertEquals, assertRejects } from "../support/assert.ts";
import { withTempDir } from "../support/store.ts";
import { sourceContract, type SourceFixture } from "../support/source_contract.ts";

/**
 * An upstream log in memory, read by a source that resumes from the stored position: the
 * smallest honest source, used here to check that the pipeline and the contract itself hold.
 */
function memoryFixture(): SourceFixture {
  const upstream: string[] = [];
  const source = (): Source => ({
    async run(ctx: SourceContext): Promise<void> {
      let next = ctx.position === undefined ? 0 : Number(ctx.position);
      while (!ctx.signal.aborted) {
        if (next < upstream.length) {
          const end = Math.min(upstream.length, next + 7);
          const events: NewEvent[] = upstream.slice(next, end).map((id) => ({
            ts: 1_700_000_000_000_000,
            source: ctx.name,
            kind: "app",
            command: "TEST",
            object: id,
          }));
          await ctx.emit({ events, position: String(end) });
          next = end;
        } else {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    },
  });
  return {
    create: source,
    produce: (n, from) => {
      for (let i = from; i < from + n; i++) upstream.push(String(i));
      return Promise.resolve();
    },
    identity: (ev: AuditEvent) => ev.object ?? null,
    close: () => Promise.resolve(),
  };
}

sourceContract("memory source", () => Promise.resolve(memoryFixture()));

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

function appEvent(id: string): NewEvent {
  return { ts: 1_700_000_000_000_000, source: "x", kind: "app", command: "TEST", object: id };
}

/** A store whose appends wait for `gate` before they reach the real store. */
function heldStore(real: Store, gate: Promise<void>): SourceStore {
  return {
    position: (source) => real.position(source),
    append: async (batch) => {
      await gate;
      return await real.append(batch);
    },
  };
}

Deno.test("runSource() ends a failed run only once its batch in flight is durable: the restart resumes after it", async () => {
  await withTempDir(async (dir) => {
    const real = await Store.open(dir, NO_TIMER);
    try {
      const gate = Promise.withResolvers<void>();
      const store = heldStore(real, gate.promise);
      const signal = new AbortController().signal;
      // A source that hands over a batch and fails before it is durable (a connection reset
      // while the store's fdatasync is slow).
      const failing: Source = {
        run(ctx) {
          ctx.emit({ events: [appEvent("a"), appEvent("b")], position: "2" }).catch(() => {});
          return Promise.reject(new SourceError("receive", "connection reset"));
        },
      };
      const first = runSource(store, failing, { name: "s", signal });
      // The store takes the batch only after every promise already settled has run its course.
      setTimeout(() => gate.resolve(), 0);
      // What the supervisor does: as soon as the run ends, start the source again.
      await assertRejects(() => first, { instanceOf: SourceError, message: /connection reset/ });
      let resumedFrom: string | undefined = "(not started)";
      await runSource(store, {
        run(ctx) {
          resumedFrom = ctx.position;
          return Promise.resolve();
        },
      }, { name: "s", signal });
      assertEquals(resumedFrom, "2", "the restarted run resumes after the batch in flight");
      assertEquals(real.size, 2);
    } finally {
      await real.close();
    }
  });
});

Deno.test("runSource() refuses a batch emitted after its run ended", async () => {
  await withTempDir(async (dir) => {
    const real = await Store.open(dir, NO_TIMER);
    try {
      let late: SourceContext | undefined;
      await runSource(real, {
        run(ctx) {
          late = ctx;
          return Promise.resolve();
        },
      }, { name: "s", signal: new AbortController().signal });
      await assertRejects(
        () => late!.emit({ events: [appEvent("late")], position: "1" }),
        { instanceOf: SourceError, message: /its run has ended/ },
      );
      assertEquals([real.size, real.position("s")], [0, undefined]);
    } finally {
      await real.close();
    }
  });
});

Deno.test("runSource() redacts every emitted event, with the built-in rules and the source's own", async () => {
  await withTempDir(async (dir) => {
    const real = await Store.open(dir, NO_TIMER);
    const gauges = new Map<string, number>();
    try {
      const source: Source = {
        redaction: { patterns: ["api_key=(?<secret>\\w+)"] },
        async run(ctx) {
          await ctx.emit({
            events: [
              { ...appEvent("a"), statement: "ALTER ROLE a PASSWORD 'hunter2'" },
              { ...appEvent("b"), params: ["host=h password=hunter3"], raw: "x api_key=k3y" },
              { ...appEvent("c"), statement: "SELECT 1" },
            ],
            position: "3",
          });
        },
      };
      await runSource(real, source, {
        name: "s",
        signal: new AbortController().signal,
        gauge: (name, value) => gauges.set(name, value),
      });
    } finally {
      await real.close();
    }
    const events: AuditEvent[] = [];
    for await (const r of readLog(dir)) events.push(r.event);
    assertEquals(events.map((e) => [e.statement, e.params, e.raw, e.redacted]), [
      ["ALTER ROLE a PASSWORD <REDACTED>", undefined, undefined, true],
      [undefined, ["host=h password=<REDACTED>"], "x api_key=<REDACTED>", true],
      ["SELECT 1", undefined, undefined, undefined],
    ]);
    assertEquals(gauges.get("redacted_events"), 2);
  });
});

Deno.test("runSource() keeps a source's saved state across a reopened store, apart from its position and events", async () => {
  await withTempDir(async (dir) => {
    const seen: (string | undefined)[] = [];
    const source = (value: string): Source => ({
      async run(ctx: SourceContext): Promise<void> {
        seen.push(ctx.state);
        await ctx.emit({ events: [], position: `pos-${value}` });
        await ctx.saveState!(`state-${value}`);
      },
    });
    for (const value of ["a", "b"]) {
      const store = await Store.open(dir, { checkpointIntervalMs: 0 });
      try {
        await runSource(store, source(value), { name: "w", signal: new AbortController().signal });
        assertEquals(store.position("w"), `pos-${value}`);
      } finally {
        await store.close();
      }
    }
    assertEquals(seen, [undefined, "state-a"]);
    const events: AuditEvent[] = [];
    for await (const r of readLog(dir)) events.push(r.event);
    assertEquals(events, [], "saving state stores no event");
  });
});
