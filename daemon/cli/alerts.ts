/**
 * `vigil alerts --data DIR [filters] [--format jsonl|table]` lists stored alerts;
 * `vigil alerts ack --data DIR --id N --by NAME --note TEXT` acknowledges one, appending the ack
 * to the chain. It needs the store's write lock, so it runs while `serve` is stopped; while
 * `serve` runs, the web UI's Operator page acknowledges through the daemon (the same ack event,
 * recorded with the signed-in user), and the CLI's refusal says so. Table output escapes control and bidi characters:
 * reasons quote attacker-controlled names.
 */

import { existsSync } from "node:fs";
import { acknowledgeAlert } from "../detect/ack.ts";
import type { Alert } from "../detect/alert.ts";
import { type AlertFilter, alertsPath, AlertStore } from "../detect/alert_store.ts";
import { alertJson } from "../detect/channel.ts";
import { parseSeverity } from "../detect/severity.ts";
import { formatRfc3339Micros } from "../event/time.ts";
import { print } from "../log.ts";
import { StoreLockedError } from "../store/errors.ts";
import { Store } from "../store/store.ts";
import { intFlag, noRest, parseFlags, required, UsageError } from "./args.ts";
import { requireDataDir, timeFlag } from "./detect.ts";
import { escapeForTerminal } from "./table.ts";

function cut(s: string, n: number): string {
  const chars = [...s];
  return chars.length > n ? chars.slice(0, n - 1).join("") + "…" : s;
}

function seqText(seqs: number[]): string {
  if (seqs.length === 0) return "";
  if (seqs.length <= 3) return seqs.join(",");
  return `${seqs[0]}…${seqs[seqs.length - 1]} (${seqs.length})`;
}

/** Renders alerts as an aligned text table with control characters made visible. */
export function renderAlertTable(alerts: Alert[]): string {
  const head = [
    "id",
    "ts_from",
    "ts_to",
    "rule",
    "severity",
    "role",
    "client_addr",
    "db",
    "score",
    "seqs",
    "ack",
    "reason",
  ];
  const rows = alerts.map((a) =>
    [
      String(a.id),
      formatRfc3339Micros(a.ts_from),
      formatRfc3339Micros(a.ts_to),
      a.rule,
      a.severity,
      a.role,
      a.client_addr ?? "",
      a.db ?? "",
      String(a.score),
      seqText(a.seqs),
      a.ack?.by ?? "",
      // Escaped before cutting, so a cut never splits an escape.
      cut(escapeForTerminal(a.reason), 100),
    ].map(escapeForTerminal)
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join("  ").trimEnd();
  const n = alerts.length;
  return [line(head), ...rows.map(line), `(${n} alert${n === 1 ? "" : "s"})`].join("\n");
}

async function listAlerts(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    format: { type: "string" },
    rule: { type: "string" },
    role: { type: "string" },
    severity: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    limit: { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const format = values.format ?? "jsonl";
  if (format !== "jsonl" && format !== "table") {
    throw new UsageError(`--format must be jsonl or table, got ${JSON.stringify(format)}`);
  }
  const filter: AlertFilter = {};
  if (values.rule !== undefined) filter.rule = values.rule;
  if (values.role !== undefined) filter.role = values.role;
  if (values.severity !== undefined) {
    try {
      filter.minSeverity = parseSeverity(values.severity);
    } catch (e) {
      throw new UsageError(`--severity: ${(e as Error).message}`);
    }
  }
  const from = timeFlag(values.from, "from");
  const to = timeFlag(values.to, "to");
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const limit = intFlag(values.limit, "limit");
  if (limit !== undefined) filter.limit = limit;
  await requireDataDir(data);
  const path = alertsPath(data);
  let alerts: Alert[] = [];
  if (existsSync(path)) {
    const store = AlertStore.open(path, { readonly: true });
    try {
      alerts = store.list(filter);
    } finally {
      store.close();
    }
  } else {
    console.error(`vigil alerts: no alerts in ${data} yet (run vigil detect)`);
  }
  if (format === "jsonl") { for (const a of alerts) print(JSON.stringify(alertJson(a))); }
  else print(renderAlertTable(alerts));
  return 0;
}

async function ackAlert(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    id: { type: "string" },
    by: { type: "string" },
    note: { type: "string" },
  });
  noRest(rest);
  const data = required(values.data, "data");
  const id = intFlag(required(values.id, "id"), "id")!;
  const by = required(values.by, "by");
  const note = values.note ?? "";
  await requireDataDir(data);
  const path = alertsPath(data);
  if (!existsSync(path)) throw new UsageError(`no alerts in ${data} yet (run vigil detect)`);
  const alerts = AlertStore.open(path);
  try {
    if (!alerts.get(id)) throw new UsageError(`no alert with id ${id}`);
    let store: Store;
    try {
      store = await Store.open(data);
    } catch (e) {
      if (e instanceof StoreLockedError) {
        throw new StoreLockedError(
          `${e.message}; while vigil serve runs, acknowledge alert ${id} on the web UI's ` +
            "Operator page (it records the same ack event), or stop serve and run this again",
        );
      }
      throw e;
    }
    try {
      const a = await acknowledgeAlert(alerts, store, { id, by, note });
      print(JSON.stringify(alertJson(a)));
    } finally {
      await store.close();
    }
  } finally {
    alerts.close();
  }
  return 0;
}

/** Runs `vigil alerts` and `vigil alerts ack`; returns the exit code. */
export function alertsCommand(argv: string[]): Promise<number> {
  if (argv[0] === "ack") return ackAlert(argv.slice(1));
  return listAlerts(argv);
}
