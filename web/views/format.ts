/** Formatting shared by the views: times, ages, byte sizes, rates. */

import { formatRfc3339Micros } from "../../daemon/event/time.ts";

/** An event time (µs) as RFC 3339 UTC. */
export function eventTime(us: number): string {
  return formatRfc3339Micros(us);
}

/** A wall time (ms) as RFC 3339 UTC to the second. */
export function wallTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A duration in seconds as "42 s", "3 min", "5 h", "2 d". */
export function age(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.max(0, seconds);
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** Bytes as "512 B", "3.2 MiB", "1.1 GiB". */
export function bytes(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A rate with sensible precision. */
export function rate(perSecond: number): string {
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString("en") : perSecond.toFixed(1);
}

/** An integer with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString("en");
}
