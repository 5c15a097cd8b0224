/**
 * Detection inside `vigil serve`: the engine of the `[detect]` table (defaults without one),
 * its alerts in `alerts.db`, its channels, fed from the store through `LiveDetection` — its
 * state loaded from the data directory's snapshot and caught up from the log after it (or, when
 * the snapshot is missing or does not fit, rebuilt from the log in the background, so the web
 * UI and the sources start at once), then every durable batch; a snapshot is written
 * periodically and at stop; each coverage finding is also written into the chain as a
 * `system` event. Its state counts in the daemon's health. Returns what the web UI
 * reads and acknowledges alerts through.
 */

import {
  acknowledgeAlert,
  alertsPath,
  AlertStore,
  channelsFor,
  defaultDetectConfig,
  detectConfigFromTable,
  LiveDetection,
} from "../detect/mod.ts";
import { COVERAGE_SOURCE, coverageEvent, isCoverageAlert } from "../detect/rules_coverage.ts";
import { log } from "../log.ts";
import { GAP_COMMANDS } from "../../plugins/mod.ts";
import type { DaemonParts } from "../serve/daemon.ts";
import type { AlertStore as WebAlerts } from "../../web/deps.ts";

/** Starts detection over the daemon's store; stops with it. */
export function startDetection(parts: DaemonParts): WebAlerts {
  const table = parts.config.detect;
  const config = table === null ? defaultDetectConfig() : detectConfigFromTable({ ...table });
  // Channels first: a CA or password file that cannot be read stops the start, leaving no store open.
  const channels = channelsFor(config);
  const alerts = AlertStore.open(alertsPath(parts.config.dataDir));
  const live = LiveDetection.start(parts.store, {
    config,
    gapCommands: GAP_COMMANDS,
    alerts,
    channels,
    onAlert: (alert, raised, { draft, fresh }) => {
      // Each coverage finding is also a gap in the record: it goes into the chain, once (a
      // replay of the log finds it again, not fresh), even when its alert merges with others.
      if (fresh && isCoverageAlert(alert)) {
        const ev = coverageEvent(draft, alert.id, Date.now() * 1000);
        parts.store.append({ source: COVERAGE_SOURCE, events: [ev] }).catch((error) =>
          log("error", "cannot record a coverage alarm in the chain", {
            alert: alert.id,
            error: String(error),
          })
        );
      }
      if (!raised) return;
      log("warn", "alert", {
        id: alert.id,
        rule: alert.rule,
        severity: alert.severity,
        role: alert.role,
        reason: alert.reason,
      });
    },
  });
  parts.board.watchDetection(() => live.status());
  parts.settling(live.current, (until, why) => void live.holdFor(until, why));
  parts.onStop(async () => {
    // No flush: open windows stay open in the snapshot and close when their time has passed.
    await live.stop();
    alerts.close();
  });
  return {
    list: (filter) => alerts.list(filter),
    get: (id) => alerts.get(id),
    ack: (id, by, note) => acknowledgeAlert(alerts, parts.store, { id, by, note }),
  };
}
