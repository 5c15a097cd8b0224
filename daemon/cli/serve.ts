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
  // Signals are taken from before the start: a SIGHUP or SIGTERM that comes once "vigil serving"
  // is logged but before the daemon is returned must not kill it by the default action.
  let daemon: Daemon | undefined;
  let stopWanted: string | null = null;
  const stop = (signal: string) => (): void => {
    if (daemon) void daemon.stop(`${signal} received`);
    else stopWanted ??= signal;
  };
  const onTerm = stop("SIGTERM");
  const onInt = stop("SIGINT");
  const onHup = (): void => {
    log("info", "SIGHUP received: reloading the configuration");
    void daemon?.reload();
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGHUP", onHup);
  try {
    const running = daemon = await Daemon.start(config, {
      version,
      sources: configuredSources,
      reloadConfig: loadVigilConfig,
      web: webApp,
    });
    if (stopWanted !== null) void running.stop(`${stopWanted} received`);
    await notifySystemd(running.finished, {
      status: `serving on ${running.address.hostname}:${running.address.port}`,
      dataDir: config.dataDir,
    });
    await running.finished;
  } finally {
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGHUP", onHup);
  }
  return 0;
}
