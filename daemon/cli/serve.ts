/**
 * `vigil serve --config FILE`: runs the daemon until SIGTERM or SIGINT (clean stop: sources
 * drain, final checkpoint), reloading the config on SIGHUP. Logs are JSON lines on stderr,
 * which journald keeps as they are.
 */

import { sourcePlugin } from "../../plugins/mod.ts";
import { ConfigError, type VigilConfig } from "../config/config.ts";
import { log, print } from "../log.ts";
import type { Hono } from "hono";
import { AccessStore } from "../access/mod.ts";
import { openIndexForRead } from "../index/feed.ts";
import { Daemon, type DaemonParts } from "../serve/daemon.ts";
import { notifySystemd } from "../serve/notify.ts";
import type { SupervisedSource } from "../serve/supervisor.ts";
import { noRest, parseFlags, required } from "./args.ts";
import { loadVigilConfig } from "./config_load.ts";
import { startDetection } from "./serve_detect.ts";
import { startExports } from "./serve_export.ts";

/** The supervised sources of a config: one factory per `[[sources]]` table. */
export function configuredSources(config: VigilConfig): SupervisedSource[] {
  return config.sources.map((s) => ({
    name: s.name,
    type: s.type,
    fingerprint: JSON.stringify(s.table),
    create: () => sourcePlugin(s.type).create(s.table),
    gauges: sourcePlugin(s.type).gauges,
  }));
}

/** The web UI over the running parts: users and sessions, the search index, the status. */
async function webApp(parts: DaemonParts): Promise<Hono> {
  const { createWebApp } = await import("../../web/app.ts");
  const access = AccessStore.open(parts.config.dataDir);
  const index = openIndexForRead(parts.config.dataDir);
  const exports = await startExports(parts);
  parts.onStop(() => {
    index?.close();
    access.close();
  });
  return createWebApp({
    store: parts.store,
    index,
    status: parts.board,
    access,
    tls: parts.tls,
    config: parts.config,
    reload: parts.reload,
    holdBackground: parts.holdBackground,
    alerts: startDetection(parts),
    ...(exports === undefined ? {} : { exports }),
  });
}

/** Runs `vigil serve`; returns the exit code once stopped. */
export async function serveCommand(argv: string[], version: string): Promise<number> {
  const { values, rest } = parseFlags(argv, { config: { type: "string" } });
  noRest(rest);
  const file = required(values.config, "config");
  let config: VigilConfig;
  try {
    config = await loadVigilConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      print(`invalid config: ${error.message}`);
      return 1;
    }
    throw error;
  }
  // Listening before the start: the "vigil serving" line may be read (and a reload or stop
  // sent) before this function resumes, and an unhandled SIGHUP would end the process.
  let daemon: Daemon | null = null;
  let stopping: string | null = null;
  let reloadAsked = false;
  const stop = (signal: string) => (): void => {
    stopping = `${signal} received`;
    void daemon?.stop(stopping);
  };
  const onTerm = stop("SIGTERM");
  const onInt = stop("SIGINT");
  const onHup = (): void => {
    if (daemon === null) {
      // The file may have changed after it was read: reload once the daemon is up.
      log("info", "SIGHUP received while starting: reloading once started");
      reloadAsked = true;
      return;
    }
    log("info", "SIGHUP received: reloading the configuration");
    void daemon.reload();
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGHUP", onHup);
  try {
    const started = daemon = await Daemon.start(config, {
      version,
      sources: configuredSources,
      reloadConfig: loadVigilConfig,
      web: webApp,
    });
    if (stopping !== null) void started.stop(stopping);
    else if (reloadAsked) void started.reload();
    await notifySystemd(started.finished, {
      status: `serving on ${started.address.hostname}:${started.address.port}`,
      dataDir: config.dataDir,
    });
    await started.finished;
  } finally {
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGHUP", onHup);
  }
  return 0;
}
