/**
 * `vigil serve`: one store, its search index, the supervised sources and the HTTP server, with
 * their lifecycle — start, reload (SIGHUP: the sources of the re-read config; the data dir and
 * listen address need a restart) and stop (SIGTERM: sources stop and their last batches land,
 * background work — the index's and detection's catch-up, the verification — ends where it is
 * with its progress saved, then the final checkpoint is signed and the data directory
 * released); the HTTP server reads headers and bodies under timeouts (`http_server.ts`). The
 * daemon's own starts, stops and reloads are `system` events in the chain, so a gap in
 * collection that an admin caused shows as such.
 */

import type { Hono } from "hono";
import { Hono as HonoApp } from "hono";
import type { JsonObject, NewEvent } from "../event/model.ts";
import { attachIndex, type IndexFeed } from "../index/feed.ts";
import { log, setLogLevel } from "../log.ts";
import { Store } from "../store/store.ts";
import type { VigilConfig } from "../config/config.ts";
import { healthRoutes } from "./http.ts";
import { type HttpServer, serveHttp } from "./http_server.ts";
import { StoreIntegrity } from "./integrity.ts";
import { IndexRecheck } from "./index_recheck.ts";
import { appendCheckpointCopy } from "./checkpoint_copy.ts";
import { StatusBoard } from "./status_board.ts";
import { type BackoffOptions, type SupervisedSource, Supervisor } from "./supervisor.ts";

/** The name under which the daemon stores its own events. */
export const DAEMON_SOURCE = "vigil";
/**
 * Longest the verification at start waits for the start's other reading of the log: past it,
 * a store damaged while detection rebuilds for hours is still found soon, and what still reads
 * is held until the verification is over (`holdBackground`: at 100M events, the two side by
 * side had peaked at 283 MiB).
 */
export const SETTLE_WAIT_MS = 10 * 60_000;
/** Index lag (events) that counts as caught up: a few seconds of busy intake. */
const SETTLED_LAG = 20_000;

/** What the command line wires in: the parts the core does not know. */
export interface DaemonWiring {
  version: string;
  /** The supervised sources of a config (plugins are looked up by the caller). */
  sources(config: VigilConfig): SupervisedSource[];
  /** Re-reads the config file for a reload; throws `ConfigError` on a bad file. */
  reloadConfig(file: string): Promise<VigilConfig>;
  /** The web UI's routes, mounted after `/healthz` and `/metrics`. */
  web?(parts: DaemonParts): Hono | Promise<Hono>;
  backoff?: BackoffOptions;
}

/** The running parts, for the web UI. */
export interface DaemonParts {
  readonly store: Store;
  /** The search index's feed (retention tells it which rows to drop). */
  readonly index: IndexFeed;
  readonly board: StatusBoard;
  /** The configuration the daemon started with. */
  readonly config: VigilConfig;
  /** The configuration as last (re)loaded: what a part that follows reloads reads. */
  currentConfig(): VigilConfig;
  readonly tls: boolean;
  /**
   * Registers a clean-up that runs at stop: after the HTTP server and the DAEMON_STOP event
   * (so a part that follows durable records still has what it needs when that one comes), and
   * before the store closes.
   */
  onStop(fn: () => void | Promise<void>): void;
  /**
   * Registers work of the start that reads the log (detection catching up): the background
   * verification at start waits for it, as for the index's catch-up (up to `SETTLE_WAIT_MS`),
   * so that they do not hold their memory at the same time. `hold` pauses that work until a
   * promise settles (see {@link holdBackground}).
   */
  settling(done: Promise<unknown>, hold?: (until: Promise<unknown>, why: string) => void): void;
  /**
   * Pauses the background readings of the log still under way (detection catching up or
   * rebuilding) until `until` settles: called by work that reads much of the log itself (every
   * full verification, a bundle download, an export run), so that their memory does not add up.
   */
  holdBackground(until: Promise<unknown>, why: string): void;
  /** Re-reads the configuration as SIGHUP does (e.g. after the UI changed managed.toml). */
  reload(): Promise<boolean>;
}

/** A running daemon. */
export class Daemon {
  readonly #store: Store;
  readonly #index: IndexFeed;
  readonly #board: StatusBoard;
  readonly #supervisor: Supervisor;
  readonly #server: HttpServer;
  readonly #wiring: DaemonWiring;
  readonly #closers: (() => void | Promise<void>)[];
  readonly #halt: AbortController;
  #config: VigilConfig;
  #stopping: Promise<void> | undefined;

  private constructor(
    parts: {
      store: Store;
      index: IndexFeed;
      board: StatusBoard;
      supervisor: Supervisor;
      server: HttpServer;
      closers: (() => void | Promise<void>)[];
      halt: AbortController;
    },
    config: VigilConfig,
    wiring: DaemonWiring,
  ) {
    this.#store = parts.store;
    this.#index = parts.index;
    this.#board = parts.board;
    this.#supervisor = parts.supervisor;
    this.#server = parts.server;
    this.#closers = parts.closers;
    this.#halt = parts.halt;
    this.#config = config;
    this.#wiring = wiring;
  }

  /** Opens the store, starts the HTTP server and every source. */
  static async start(config: VigilConfig, wiring: DaemonWiring): Promise<Daemon> {
    setLogLevel(config.log.level);
    const dataDir = config.dataDir;
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    // The board reads the store and the store reports to the board: `opened` ties the knot.
    let opened: Store | undefined;
    const copy = config.store.checkpointCopy;
    let checks: StoreIntegrity | undefined;
    const b = new StatusBoard({
      version: wiring.version,
      dataDir,
      checkpoint: () => opened?.lastCheckpoint ?? null,
    });
    const store = opened = await Store.open(dataDir, {
      checkpointIntervalMs: config.store.checkpointIntervalMs,
      maxSegmentBytes: config.store.maxSegmentBytes,
      maxSegmentAgeMs: config.store.maxSegmentAgeMs,
      compressSealed: config.store.compressSealed,
      onCommit: (c) => b.committed(c.seconds, opened?.size ?? 0),
      onWriteError: (e) => b.storeFailed(e),
      ...(copy === null ? {} : {
        onCheckpoint: (cp) =>
          appendCheckpointCopy(copy, cp).then(
            () => checks?.copied(cp.size),
            (e) => {
              checks?.copied(cp.size, e);
              throw e;
            },
          ),
      }),
    });
    store.onDurable((records) => b.durable(records));
    let index: IndexFeed | undefined;
    let server: HttpServer | undefined;
    const closers: (() => void | Promise<void>)[] = [];
    const settling: Promise<unknown>[] = [];
    const holds: ((until: Promise<unknown>, why: string) => void)[] = [];
    const holdBackground = (until: Promise<unknown>, why: string): void => {
      for (const hold of holds) hold(until, why);
    };
    // Aborted as the stop begins: what polls the parts stops before they close.
    const halt = new AbortController();
    let running: Daemon | undefined;
    try {
      // Before anything is appended or served: a damaged store is never served as healthy.
      const integrity = checks = await StoreIntegrity.check(store, {
        source: DAEMON_SOURCE,
        checkpointCopy: copy,
        onRun: (run) => holdBackground(run, "a store verification"),
      });
      b.watchIntegrity(() => integrity.status());
      closers.push(() => integrity.stop());
      index = await attachIndex(store);
      const feed = index;
      b.watchIndex(() => feed.lag());
      settling.push(caughtUp(() => feed.lag(), halt.signal));
      b.committed(0, store.size);
      const app = new HonoApp();
      app.route("/", healthRoutes(b));
      const tls = config.web.tlsCert !== null;
      if (wiring.web !== undefined) {
        const onStop = (fn: () => void | Promise<void>): void => void closers.push(fn);
        const reload = (): Promise<boolean> => running?.reload() ?? Promise.resolve(false);
        const currentConfig = (): VigilConfig => running?.config ?? config;
        app.route(
          "/",
          await wiring.web({
            store,
            index: feed,
            board: b,
            config,
            currentConfig,
            tls,
            onStop,
            settling: (done, hold) => {
              settling.push(done);
              if (hold !== undefined) holds.push(hold);
            },
            holdBackground,
            reload,
          }),
        );
      }
      server = await serveWeb(app, config);
      b.start();
      const supervisor = new Supervisor(store, b, wiring.backoff);
      const daemon = running = new Daemon(
        { store, index, board: b, supervisor, server, closers, halt },
        config,
        wiring,
      );
      await daemon.#event("DAEMON_START", {
        version: wiring.version,
        sources: config.sources.map((s) => s.name),
        listen: `${server.addr.hostname}:${server.addr.port}`,
      });
      await integrity.start(settled(settling));
      const recheck = await IndexRecheck.start(store, index, {
        source: DAEMON_SOURCE,
        intervalMs: config.store.indexRecheckMs,
      });
      closers.push(() => recheck.stop());
      await supervisor.apply(wiring.sources(config));
      log("info", "vigil serving", {
        listen: `${server.addr.hostname}:${server.addr.port}`,
        tls,
        data_dir: dataDir,
        sources: config.sources.length,
        events: store.size,
      });
      return daemon;
    } catch (error) {
      b.stop();
      await server?.shutdown();
      await runClosers(closers);
      await index?.close().catch(() => {});
      await store.close();
      throw error;
    }
  }

  /** Where the HTTP server listens (the real port when the config said 0). */
  get address(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** The configuration as last (re)loaded. */
  get config(): VigilConfig {
    return this.#config;
  }

  get board(): StatusBoard {
    return this.#board;
  }

  get store(): Store {
    return this.#store;
  }

  /** The search index's feed. */
  get index(): IndexFeed {
    return this.#index;
  }

  /**
   * Re-reads the config file and applies its sources. A file that does not check out is
   * refused whole (the running set stays as it was) and logged with its line.
   */
  async reload(): Promise<boolean> {
    let next: VigilConfig;
    try {
      next = await this.#wiring.reloadConfig(this.#config.file);
    } catch (error) {
      log("error", "reload refused: the config file has an error; nothing changed", {
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
    const old = this.#config;
    if (next.dataDir !== old.dataDir || JSON.stringify(next.web) !== JSON.stringify(old.web)) {
      log("warn", "data_dir and [web] changes take effect at the next restart");
    }
    setLogLevel(next.log.level);
    this.#config = next;
    await this.#supervisor.apply(this.#wiring.sources(next));
    await this.#event("DAEMON_RELOAD", { sources: next.sources.map((s) => s.name) });
    log("info", "configuration reloaded", { sources: next.sources.length });
    return true;
  }

  /** Stops sources, server and store; idempotent. */
  stop(reason = "stop requested"): Promise<void> {
    this.#stopping ??= (async () => {
      log("info", "vigil stopping", { reason });
      this.#halt.abort();
      await this.#supervisor.stopAll();
      await this.#server.shutdown();
      // The index's close ends a catch-up from the log after the batch in hand (the next start
      // goes on from the index's end). While one runs, it goes first: each of its batches holds
      // the thread for a while, and the stop event below and the clean-ups each need turns of
      // it (a stop took 7-15 s on a loaded machine). Otherwise it closes after the stop event,
      // which it then holds. Nothing else uses the feed's index: the web UI and the re-check
      // read through connections of their own.
      const closeIndex = (): Promise<void> =>
        this.#index.close().catch((e) =>
          log("warn", "search index close failed", { error: String(e) })
        );
      const indexClosed = this.#index.lag() > SETTLED_LAG ? closeIndex() : null;
      // The last event before the parts close: what follows durable records (detection, the
      // index, whatever the web UI registered) is still open to take it in.
      await this.#event("DAEMON_STOP", { reason }).catch((e) =>
        log("error", "could not store the stop event", { error: String(e) })
      );
      await Promise.all([indexClosed ?? closeIndex(), runClosers(this.#closers)]);
      this.#board.stop();
      await this.#store.close();
      log("info", "vigil stopped", { events: this.#store.size });
    })();
    return this.#stopping;
  }

  /** Waits until the daemon has stopped. */
  get finished(): Promise<void> {
    return this.#server.finished.then(() => this.#stopping);
  }

  async #event(command: string, context: JsonObject): Promise<void> {
    const ev: NewEvent = {
      ts: Date.now() * 1000,
      source: DAEMON_SOURCE,
      kind: "system",
      command,
      context,
    };
    await this.#store.append({ source: DAEMON_SOURCE, events: [ev] });
  }
}

/** The HTTP server of the config's `[web]`, with read timeouts (`http_server.ts`). */
async function serveWeb(app: Hono, config: VigilConfig): Promise<HttpServer> {
  const { hostname, port } = config.web.listen;
  const tls = config.web.tlsCert !== null && config.web.tlsKey !== null
    ? {
      cert: await Deno.readTextFile(config.web.tlsCert),
      key: await Deno.readTextFile(config.web.tlsKey),
    }
    : undefined;
  return await serveHttp((req, info) => app.fetch(req, info), {
    hostname,
    port,
    ...(tls === undefined ? {} : { tls }),
    onError: (error: unknown) => {
      log("error", "HTTP handler failed", { error: String(error) });
      return new Response("internal error", { status: 500 });
    },
  });
}

/**
 * Resolves once `lag()` (the search index's, behind the log) is down to what live intake keeps
 * it at: its catch-up from the log, a reading of the log like detection's, is done. Polled on a
 * timer that does not keep the process alive; given up after SETTLE_WAIT_MS, or at the stop.
 */
function caughtUp(lag: () => number, halt: AbortSignal): Promise<void> {
  const until = Date.now() + SETTLE_WAIT_MS;
  return new Promise((resolve) => {
    const poll = (): void => {
      if (halt.aborted || lag() <= SETTLED_LAG || Date.now() > until) return resolve();
      Deno.unrefTimer(setTimeout(poll, 1000));
    };
    poll();
  });
}

/** Resolves once every one of `parts` has settled, or after SETTLE_WAIT_MS. */
function settled(parts: readonly Promise<unknown>[]): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = new Promise<void>((r) => (timer = setTimeout(r, SETTLE_WAIT_MS)));
  return Promise.race([Promise.allSettled(parts).then(() => {}), wait])
    .finally(() => clearTimeout(timer));
}

async function runClosers(closers: readonly (() => void | Promise<void>)[]): Promise<void> {
  for (const fn of closers) {
    try {
      await fn();
    } catch (error) {
      log("warn", "a clean-up at stop failed", { error: String(error) });
    }
  }
}
