/**
 * Detection settings: a plain object with defaults, and the mapping from the TOML `[detect]`
 * table onto it. The mapping rejects unknown keys and wrong types with a `TypeError` naming the
 * key, so that a typo in a threshold never silently turns a detector off.
 */

import { checkTimeZone } from "./clock.ts";
import { ConfigKeyError } from "../config/fields.ts";

/** Where alerts go besides the alert store. */
export interface ChannelConfigs {
  syslog?: { address: string; transport: "udp" | "tcp"; app_name: string; min_severity: Severity };
  webhook?: { url: string; retries: number; backoff_ms: number; min_severity: Severity };
  smtp?: {
    host: string;
    port: number;
    from: string;
    to: string[];
    helo: string;
    min_severity: Severity;
    /** Upgrade the connection with STARTTLS before anything else; refuse if not offered. */
    starttls: boolean;
    /** PEM CA certificates that verify the relay's certificate (default: the system's). */
    ca_file?: string;
    /** AUTH PLAIN or LOGIN (as the relay offers) with this user; needs `starttls`. */
    username?: string;
    /** The password: an absolute file, or a name in `$CREDENTIALS_DIRECTORY`. */
    password_file?: string;
  };
}

/** Alert severities, least to most urgent. */
export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export type Severity = typeof SEVERITIES[number];

/** Every tunable of the detectors. Keys are the TOML keys. */
export interface DetectConfig {
  /**
   * IANA time zone of the site's clock (`Europe/Berlin`): hour of day and weekday features and
   * the off-hours rule read event times in it, daylight saving time included.
   */
  timezone: string;
  /** Width of a feature window, event time. */
  window_minutes: number;
  /** How far behind the newest event time a window may still receive events. */
  lateness_minutes: number;
  /** Alerts of one rule and role closer than this merge into one incident. */
  merge_minutes: number;
  /** Objects whose reads and grants matter more; `*` matches any run of characters. */
  sensitive_objects: string[];
  /** Roles whose grant to another role is a privilege escalation. */
  privileged_roles: string[];
  /**
   * Named groups of roles that work alike (`analysts = ["bob", "carol"]`): a role without a
   * baseline of its own is scored against its group's windows; roles in no group against all.
   */
  peer_groups: Record<string, string[]>;
  /** Rules and models that do not run, by name. */
  disabled: string[];
  /** History a role needs before "never did X" and "usual hours" rules speak. */
  min_history_days: number;
  failed_login_burst: number;
  failed_login_window_minutes: number;
  /** An hour of day holding less than this share of a role's active windows is unusual. */
  off_hours_min_share: number;
  bulk_read_objects: number;
  bulk_read_factor: number;
  /** First-time objects read by a role within 7 days that make an exfiltration alert. */
  new_objects_per_week: number;
  /** Roles on one client address in one window that make a shared-address alert. */
  shared_addr_roles: number;
  /** Statements of one application on one database in a window that may make a surge alert… */
  app_surge_statements: number;
  /** …when also this many times its largest window so far (a new application: any). */
  app_surge_factor: number;
  if_trees: number;
  if_subsample: number;
  if_threshold: number;
  /** Windows kept as a role's rolling baseline. */
  baseline_windows: number;
  /** A role with fewer windows is scored against its peer group (all roles). */
  min_baseline: number;
  /** New windows before a model is retrained (at least; a quarter of its training rows if more). */
  retrain_every: number;
  dbscan_min_points: number;
  /** A DBSCAN noise window alerts when its nearest core lies this many eps away. */
  dbscan_noise_factor: number;
  seed: number;
  channels: ChannelConfigs;
}

/** The defaults, tuned on the scenario tests (tests/daemon/detect/scenario_test.ts). */
export function defaultDetectConfig(): DetectConfig {
  return {
    timezone: "UTC",
    window_minutes: 60,
    lateness_minutes: 5,
    merge_minutes: 60,
    sensitive_objects: [],
    privileged_roles: [
      "postgres",
      "pg_read_all_data",
      "pg_write_all_data",
      "pg_execute_server_program",
      "pg_read_server_files",
      "pg_write_server_files",
    ],
    peer_groups: {},
    disabled: [],
    min_history_days: 7,
    failed_login_burst: 5,
    failed_login_window_minutes: 10,
    off_hours_min_share: 0.01,
    bulk_read_objects: 20,
    bulk_read_factor: 3,
    new_objects_per_week: 8,
    shared_addr_roles: 3,
    app_surge_statements: 200,
    app_surge_factor: 3,
    if_trees: 100,
    if_subsample: 256,
    if_threshold: 0.7,
    baseline_windows: 512,
    min_baseline: 48,
    retrain_every: 24,
    dbscan_min_points: 5,
    dbscan_noise_factor: 3,
    seed: 1,
    channels: {},
  };
}

type Kind = "int" | "number" | "strings" | "share";
const SCALARS: Record<string, Kind> = {
  window_minutes: "int",
  lateness_minutes: "int",
  merge_minutes: "int",
  sensitive_objects: "strings",
  privileged_roles: "strings",
  disabled: "strings",
  min_history_days: "number",
  failed_login_burst: "int",
  failed_login_window_minutes: "int",
  off_hours_min_share: "share",
  bulk_read_objects: "int",
  bulk_read_factor: "number",
  new_objects_per_week: "int",
  shared_addr_roles: "int",
  app_surge_statements: "int",
  app_surge_factor: "number",
  if_trees: "int",
  if_subsample: "int",
  if_threshold: "share",
  baseline_windows: "int",
  min_baseline: "int",
  retrain_every: "int",
  dbscan_min_points: "int",
  dbscan_noise_factor: "number",
  seed: "int",
};

function bad(key: string, why: string): TypeError {
  return new ConfigKeyError(key, `Cannot read [detect] setting ${key}: ${why}`);
}

function scalar(key: string, kind: Kind, v: unknown): number | string[] {
  if (kind === "strings") {
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      throw bad(key, "must be an array of strings");
    }
    return [...v] as string[];
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(key, "must be a number");
  if (kind === "int" && (!Number.isInteger(v) || v < (key === "seed" ? 0 : 1))) {
    throw bad(key, key === "seed" ? "must be an integer ≥ 0" : "must be an integer ≥ 1");
  }
  if (kind === "share" && (v < 0 || v > 1)) throw bad(key, "must be between 0 and 1");
  if (kind === "number" && v < 0) throw bad(key, "must be ≥ 0");
  return v;
}

function table(key: string, v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(key, "must be a table");
  return v as Record<string, unknown>;
}

function str(t: Record<string, unknown>, key: string, path: string, dflt?: string): string {
  const v = t[key] ?? dflt;
  if (typeof v !== "string" || v === "") throw bad(`${path}.${key}`, "must be a non-empty string");
  return v;
}

function num(t: Record<string, unknown>, key: string, path: string, dflt: number): number {
  const v = t[key] ?? dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw bad(`${path}.${key}`, "must be an integer ≥ 0");
  }
  return v;
}

function severity(t: Record<string, unknown>, path: string): Severity {
  const v = t.min_severity ?? "medium";
  if (!(SEVERITIES as readonly unknown[]).includes(v)) {
    throw bad(`${path}.min_severity`, `must be one of ${SEVERITIES.join(", ")}`);
  }
  return v as Severity;
}

function onlyKeys(t: Record<string, unknown>, path: string, keys: string[]): void {
  for (const k of Object.keys(t)) if (!keys.includes(k)) throw bad(`${path}.${k}`, "unknown key");
}

function channels(t: Record<string, unknown>, name: string): ChannelConfigs[keyof ChannelConfigs] {
  const path = name;
  if (name === "syslog") {
    onlyKeys(t, path, ["address", "transport", "app_name", "min_severity"]);
    const transport = t.transport ?? "udp";
    if (transport !== "udp" && transport !== "tcp") {
      throw bad(`${path}.transport`, "must be udp or tcp");
    }
    return {
      address: str(t, "address", path),
      transport,
      app_name: str(t, "app_name", path, "vigil"),
      min_severity: severity(t, path),
    };
  }
  if (name === "webhook") {
    onlyKeys(t, path, ["url", "retries", "backoff_ms", "min_severity"]);
    const url = str(t, "url", path);
    if (!/^https?:\/\//.test(url)) throw bad(`${path}.url`, "must be an http(s) URL");
    return {
      url,
      retries: num(t, "retries", path, 5),
      backoff_ms: num(t, "backoff_ms", path, 500),
      min_severity: severity(t, path),
    };
  }
  onlyKeys(t, path, [
    "host",
    "port",
    "from",
    "to",
    "helo",
    "min_severity",
    "starttls",
    "ca_file",
    "username",
    "password_file",
  ]);
  const to = t.to;
  if (!Array.isArray(to) || to.length === 0 || to.some((x) => typeof x !== "string")) {
    throw bad(`${path}.to`, "must be a non-empty array of addresses");
  }
  const starttls = t.starttls ?? false;
  if (typeof starttls !== "boolean") throw bad(`${path}.starttls`, "must be true or false");
  const out: NonNullable<ChannelConfigs["smtp"]> = {
    host: str(t, "host", path),
    port: num(t, "port", path, 25),
    from: str(t, "from", path),
    to: [...to] as string[],
    helo: str(t, "helo", path, "vigil"),
    min_severity: severity(t, path),
    starttls,
  };
  if (t.ca_file !== undefined) {
    out.ca_file = str(t, "ca_file", path);
    if (!out.ca_file.startsWith("/")) throw bad(`${path}.ca_file`, "must be an absolute path");
    if (!starttls) throw bad(`${path}.ca_file`, "needs starttls = true");
  }
  if ((t.username === undefined) !== (t.password_file === undefined)) {
    throw bad(`${path}.username`, "username and password_file go together");
  }
  if (t.username !== undefined) {
    // Credentials never cross the network in the clear.
    if (!starttls) throw bad(`${path}.username`, "AUTH needs starttls = true");
    out.username = str(t, "username", path);
    out.password_file = str(t, "password_file", path);
  }
  return out;
}

function peerGroups(t: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const seen = new Map<string, string>();
  for (const [name, roles] of Object.entries(t)) {
    const path = `peer_groups.${name}`;
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== "string" || r === "")) {
      throw bad(path, "must be an array of role names");
    }
    for (const r of roles as string[]) {
      const other = seen.get(r);
      if (other !== undefined) throw bad(path, `role ${JSON.stringify(r)} is also in ${other}`);
      seen.set(r, name);
    }
    out[name] = [...roles] as string[];
  }
  return out;
}

/**
 * The config of a TOML `[detect]` table (as parsed into plain values); absent keys take the
 * defaults. Throws `TypeError` naming the first bad key.
 *
 * @example
 * detectConfigFromTable({ sensitive_objects: ["hr.*"], webhook: { url: "http://127.0.0.1:9/" } })
 */
export function detectConfigFromTable(t: Record<string, unknown>): DetectConfig {
  const cfg = defaultDetectConfig();
  const out = cfg as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(t)) {
    if (key === "peer_groups") {
      cfg.peer_groups = peerGroups(table(key, value));
      continue;
    }
    if (key === "timezone") {
      if (typeof value !== "string" || value === "") throw bad(key, "must be an IANA zone name");
      cfg.timezone = checkTimeZone(value, "[detect] setting timezone");
      continue;
    }
    if (key === "syslog" || key === "webhook" || key === "smtp") {
      (cfg.channels as Record<string, unknown>)[key] = channels(table(key, value), key);
      continue;
    }
    const kind = SCALARS[key];
    if (kind === undefined) throw bad(key, "unknown key");
    out[key] = scalar(key, kind, value);
  }
  if (cfg.if_subsample < 2) throw bad("if_subsample", "must be at least 2");
  return cfg;
}

/** A predicate for `sensitive_objects`: exact names, `*` as a wildcard, case-insensitive. */
export function sensitiveMatcher(patterns: string[]): (object: string) => boolean {
  if (patterns.length === 0) return () => false;
  const res = patterns.map((p) =>
    new RegExp(
      "^" + p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$",
      "i",
    )
  );
  return (object) => res.some((re) => re.test(object));
}
