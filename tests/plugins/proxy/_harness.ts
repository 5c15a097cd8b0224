/**
 * Helpers for the proxy source's tests: a store in memory that can be told to refuse, a proxy
 * running in front of a harness cluster on a port the system chose, and psql run through it.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import type { SourceBatch, SourceContext } from "../../../daemon/source.ts";
import { type ProxySource, proxySourceFromTable } from "../../../plugins/proxy/mod.ts";
import { assertEventually } from "../../support/assert.ts";
import type { PgCluster } from "../../support/postgres.ts";

/**
 * A store in memory: keeps each batch and the position it carried, refuses while `failing`,
 * holds batches back while `paused`. With `spoolDir`, the sources it runs have a spool there,
 * as under `vigil serve`.
 */
export class MemoryStore {
  readonly events: NewEvent[] = [];
  failing = false;
  paused = false;
  position: string | undefined;
  spoolDir: string | undefined;
  /** Events of the batches refused. */
  readonly refusedEvents: NewEvent[] = [];

  get refused(): number {
    return this.refusedEvents.length;
  }

  context(name: string, signal: AbortSignal): SourceContext {
    return {
      name,
      position: this.position,
      ...(this.spoolDir !== undefined ? { spoolDir: this.spoolDir } : {}),
      signal,
      emit: async (batch: SourceBatch) => {
        await new Promise((resolve) => setTimeout(resolve, 1)); // an fsync takes a while
        while (this.paused) await new Promise((resolve) => setTimeout(resolve, 5));
        if (this.failing) {
          this.refusedEvents.push(...batch.events);
          throw new Error("disk full (test)");
        }
        this.events.push(...batch.events);
        if (batch.position !== undefined) this.position = batch.position;
      },
    };
  }

  /** Stored events of `command` (and `session`, if given). */
  of(command: string, session?: string): NewEvent[] {
    return this.events.filter((e) =>
      e.command === command && (session === undefined || e.session_id === session)
    );
  }
}

/** A proxy running in front of `pg`. */
export interface RunningProxy extends AsyncDisposable {
  readonly store: MemoryStore;
  readonly port: number;
  readonly source: ProxySource;
  /** Aborts the source and waits for its run to end; rejects with the run's error. */
  stop(): Promise<void>;
}

/** Starts a proxy source `name` with `table` keys over the defaults (listen on a free port). */
export async function startProxy(
  pg: PgCluster,
  table: Record<string, unknown> = {},
  store = new MemoryStore(),
): Promise<RunningProxy> {
  const source = proxySourceFromTable({
    name: "proxy-test",
    type: "proxy",
    listen: "127.0.0.1:0",
    upstream: `postgres://${pg.host}:${pg.port}/`,
    ...table,
  });
  const ac = new AbortController();
  let failure: unknown;
  const done = source.run(store.context("proxy-test", ac.signal)).catch((e) => {
    failure = e;
  });
  const address = await assertEventually(
    () => failure !== undefined ? Promise.reject(failure) : source.stats.address,
    { message: "proxy listening" },
  );
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    ac.abort();
    await done;
    if (failure !== undefined) throw failure;
  };
  return { store, port: address.port, source, stop, [Symbol.asyncDispose]: stop };
}

/** What a psql run printed and how it ended. */
export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs psql through the proxy (`-X -At`), with `conninfo` keys added to the defaults. */
export async function psql(
  port: number,
  args: string[],
  opts: { conninfo?: string; password?: string; user?: string; stdin?: string } = {},
): Promise<PsqlResult> {
  const conninfo = `host=127.0.0.1 port=${port} dbname=postgres user=${opts.user ?? "postgres"} ` +
    `application_name=proxy-test connect_timeout=10 ${opts.conninfo ?? "sslmode=disable"}`;
  const cmd = new Deno.Command("psql", {
    args: ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, ...args],
    env: { PGPASSWORD: opts.password ?? "", PGCONNECT_TIMEOUT: "10" },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
