/**
 * An `[[exports]]` table of the configuration: where one export target writes and how often.
 * `exportTargetFromTable` checks one table and is what the configuration module calls; it throws
 * a TypeError naming the bad key. `loadExportTargets` reads just the `[[exports]]` tables of a
 * config file (for `vigil export-run`, which needs nothing else), and `openSink` makes the sink,
 * reading the S3 keys from their files — never from the config file itself. A relative key file
 * is looked up in systemd's `$CREDENTIALS_DIRECTORY`, so `LoadCredential=` works unchanged.
 *
 * @example
 * [[exports]]
 * name = "archive"
 * type = "s3"
 * endpoint = "https://rgw.example:7480"
 * bucket = "vigil-audit"
 * access_key_file = "/etc/vigil/s3.access"
 * secret_key_file = "/etc/vigil/s3.secret"
 * object_lock = true
 * retain_days = 400
 */

import { parse } from "smol-toml";
import { parseDuration as parseConfigDuration } from "../config/duration.ts";
import { readSecret } from "../config/secret.ts";
import { S3Client } from "./s3_client.ts";
import { DirSink } from "./sink_dir.ts";
import { S3Sink } from "./sink_s3.ts";
import type { Sink } from "./sink.ts";
import { ConfigKeyError } from "../config/fields.ts";

const MIB = 1024 * 1024;

/** One configured export target. */
export type ExportTarget =
  & {
    name: string;
    /** How often the target is exported to, in ms. */
    intervalMs: number;
  }
  & (
    | { type: "dir"; path: string }
    | {
      type: "s3";
      endpoint: string;
      bucket: string;
      /** `""` or ending in `/`. */
      prefix: string;
      region: string;
      accessKeyFile: string;
      secretKeyFile: string;
      /** COMPLIANCE retention in days, when Object Lock is on. */
      retainDays?: number;
      partBytes: number;
      multipartThreshold: number;
    }
  );

const COMMON = ["name", "type", "interval"];
const DIR_KEYS = [...COMMON, "path"];
const S3_KEYS = [
  ...COMMON,
  "endpoint",
  "bucket",
  "prefix",
  "region",
  "access_key_file",
  "secret_key_file",
  "object_lock",
  "retain_days",
  "part_size_mib",
  "multipart_threshold_mib",
];

/** Checks one `[[exports]]` table; throws `ConfigKeyError` naming the first bad key. */
export function exportTargetFromTable(table: Record<string, unknown>): ExportTarget {
  const name = str(table, "name", "exports");
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new ConfigKeyError(
      "name",
      `exports: name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _ . -`,
    );
  }
  const at = `exports "${name}"`;
  const type = str(table, "type", at);
  if (type !== "dir" && type !== "s3") {
    throw new ConfigKeyError(
      "type",
      `${at}: type must be "dir" or "s3", got ${JSON.stringify(type)}`,
    );
  }
  const allowed = type === "dir" ? DIR_KEYS : S3_KEYS;
  for (const k of Object.keys(table)) {
    if (!allowed.includes(k)) {
      throw new ConfigKeyError(k, `${at}: unknown key "${k}" for type "${type}"`);
    }
  }
  let intervalMs: number;
  try {
    intervalMs = parseDuration(optStr(table, "interval", at) ?? "15m", `${at}: interval`);
  } catch (error) {
    if (!(error instanceof TypeError) || error instanceof ConfigKeyError) throw error;
    throw new ConfigKeyError("interval", error.message);
  }
  if (type === "dir") return { name, type, intervalMs, path: str(table, "path", at) };
  const endpoint = str(table, "endpoint", at);
  if (!/^https?:\/\/[^/?#]+\/?$/.test(endpoint)) {
    throw new ConfigKeyError(
      "endpoint",
      `${at}: endpoint must be http(s)://host[:port] with no path`,
    );
  }
  const bucket = str(table, "bucket", at);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigKeyError(
      "bucket",
      `${at}: bucket ${JSON.stringify(bucket)} is not a valid bucket name`,
    );
  }
  let prefix = optStr(table, "prefix", at) ?? "";
  if (prefix.startsWith("/") || prefix.split("/").some((p, i, a) => p === "" && i < a.length - 1)) {
    throw new ConfigKeyError("prefix", `${at}: prefix must be relative with no empty segments`);
  }
  if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
  const lock = table.object_lock ?? false;
  if (typeof lock !== "boolean") {
    throw new ConfigKeyError("object_lock", `${at}: object_lock must be true or false`);
  }
  const retainDays = optInt(table, "retain_days", at, 1);
  if (lock && retainDays === undefined) {
    throw new ConfigKeyError(
      "retain_days",
      `${at}: retain_days is required with object_lock = true`,
    );
  }
  if (!lock && retainDays !== undefined) {
    throw new ConfigKeyError(
      "retain_days",
      `${at}: retain_days applies only with object_lock = true`,
    );
  }
  const partBytes = (optInt(table, "part_size_mib", at, 5) ?? 16) * MIB;
  const multipartThreshold = (optInt(table, "multipart_threshold_mib", at, 5) ?? 64) * MIB;
  return {
    name,
    type,
    intervalMs,
    endpoint: endpoint.replace(/\/$/, ""),
    bucket,
    prefix,
    region: optStr(table, "region", at) ?? "us-east-1",
    accessKeyFile: str(table, "access_key_file", at),
    secretKeyFile: str(table, "secret_key_file", at),
    ...(lock && retainDays !== undefined ? { retainDays } : {}),
    partBytes,
    multipartThreshold,
  };
}

/** The `[[exports]]` targets of a config file; other tables are left to the config module. */
export async function loadExportTargets(path: string): Promise<ExportTarget[]> {
  let doc: Record<string, unknown>;
  try {
    doc = parse(await Deno.readTextFile(path)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new TypeError(`${path}: no such file`);
    throw new TypeError(`${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  const list = doc.exports ?? [];
  if (!Array.isArray(list)) throw new TypeError(`${path}: exports must be an array of tables`);
  const out: ExportTarget[] = [];
  for (const t of list) {
    if (typeof t !== "object" || t === null) throw new TypeError(`${path}: exports: not a table`);
    const target = exportTargetFromTable(t as Record<string, unknown>);
    if (out.some((o) => o.name === target.name)) {
      throw new TypeError(`${path}: exports "${target.name}" is configured twice`);
    }
    out.push(target);
  }
  return out;
}

/** Makes the sink of a target, reading its key files. */
export function openSink(target: ExportTarget): Sink {
  if (target.type === "dir") return new DirSink(target.name, target.path);
  const accessKeyId = readKey(target.accessKeyFile, target.name);
  const secretAccessKey = readKey(target.secretKeyFile, target.name);
  const s3 = new S3Client({
    endpoint: target.endpoint,
    bucket: target.bucket,
    region: target.region,
    accessKeyId,
    secretAccessKey,
  });
  return new S3Sink(target.name, s3, {
    prefix: target.prefix,
    partBytes: target.partBytes,
    multipartThreshold: target.multipartThreshold,
    ...(target.retainDays !== undefined ? { retainDays: target.retainDays } : {}),
  });
}

/** A duration of the config (daemon/config/duration.ts), at least a second. */
export function parseDuration(text: string, what: string): number {
  let ms: number;
  try {
    ms = parseConfigDuration(text);
  } catch (e) {
    throw new TypeError(`${what}: ${(e as Error).message}`);
  }
  if (ms < 1000) throw new TypeError(`${what}: must be at least 1s`);
  return ms;
}

/** A key file's secret (daemon/config/secret.ts), with the target named in the error. */
function readKey(path: string, target: string): string {
  try {
    return readSecret(path);
  } catch (e) {
    throw new TypeError(`exports "${target}": ${(e as Error).message}`);
  }
}

function str(t: Record<string, unknown>, key: string, at: string): string {
  const v = t[key];
  if (v === undefined) throw new ConfigKeyError(key, `${at}: ${key} is required`);
  if (typeof v !== "string" || v === "") {
    throw new ConfigKeyError(key, `${at}: ${key} must be a non-empty string`);
  }
  return v;
}

function optStr(t: Record<string, unknown>, key: string, at: string): string | undefined {
  return t[key] === undefined ? undefined : str(t, key, at);
}

function optInt(
  t: Record<string, unknown>,
  key: string,
  at: string,
  min: number,
): number | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigKeyError(key, `${at}: ${key} must be an integer of at least ${min}`);
  }
  return n;
}
