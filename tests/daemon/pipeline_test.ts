import type { AuditEvent, NewEvent } from "../../daemon/event/model.ts";
import type { Source, SourceContext } from "../../daemon/source.ts";
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
