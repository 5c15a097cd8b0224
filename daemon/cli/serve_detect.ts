/**
 * Detection inside `vigil serve`: the engine of the `[detect]` table (defaults without one),
 * its alerts in `alerts.db`, its channels, fed from the store — first a replay of what it has
 * not seen (in the background, so the web UI and the sources start at once), then every durable
 * batch. Returns what the web UI reads and acknowledges alerts through.
 */

import {
  alertsPath,
  AlertStore,
  attachEngine,
  channelsFor,
  defaultDetectConfig,
  detectConfigFromTable,
  DetectEngine,
} from "../detect/mod.ts";
import { log } from "../log.ts";
import type { DaemonParts } from "../serve/daemon.ts";
import type { AlertStore as WebAlerts } from "../../web/deps.ts";

/** Starts detection over the daemon's store; stops with it. */
export function startDetection(parts: DaemonParts): WebAlerts {
  const table = parts.config.detect;
  const config = table === null ? defaultDetectConfig() : detectConfigFromTable({ ...table });
  // Channels first: a CA or password file that cannot be read stops the start, leaving no store open.
  const channels = channelsFor(config);
  const alerts = AlertStore.open(alertsPath(parts.config.dataDir));
  const engine = new DetectEngine(config, {
    alerts,
    channels,
    onAlert: (alert, created) => {
      if (!created) return;
      log("warn", "alert", {
        id: alert.id,
        rule: alert.rule,
        severity: alert.severity,
        role: alert.role,
        reason: alert.reason,
      });
    },
  });
  const attached = attachEngine(engine, parts.store).catch((error) =>
    log("error", "detection stopped: it could not read the log", { error: String(error) })
  );
  parts.onStop(async () => {
    await attached;
    engine.flush();
    await engine.drain();
    alerts.close();
  });
  return {
    list: (filter) => engine.list(filter),
    get: (id) => engine.alerts.get(id),
    ack: (id, by, note) => engine.ack(id, by, note, parts.store),
  };
}
