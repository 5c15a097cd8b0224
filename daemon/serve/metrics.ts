/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4), rendered from the same
 * snapshot as `/healthz`. Source names are label values and come from the config file; they are
 * escaped as the format requires all the same.
 */

import type { IntegrityStatus, ServeStatus } from "./status.ts";

/** The content type Prometheus expects for this format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function gaugeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_");
}

type Family = (name: string, type: "counter" | "gauge", help: string) => void;

/** The store's start checks and background verifications. */
function integrityMetrics(i: IntegrityStatus, family: Family, out: string[]): void {
  family(
    "vigil_store_intact",
    "gauge",
    "0 once the start checks or a verification found the store damaged (until restart).",
  );
  out.push(`vigil_store_intact ${i.healthy ? 1 : 0}`);
  family("vigil_store_verify_runs_total", "counter", "Full verifications finished, by result.");
  out.push(`vigil_store_verify_runs_total{result="intact"} ${i.runs.intact}`);
  out.push(`vigil_store_verify_runs_total{result="damaged"} ${i.runs.damaged}`);
  family("vigil_store_verify_running", "gauge", "1 while a full verification runs.");
  out.push(`vigil_store_verify_running ${i.verifying === null ? 0 : 1}`);
  const v = i.lastVerification;
  if (v === null) return;
  family(
    "vigil_store_verify_last_ok",
    "gauge",
    "1 when the last full verification found no damage.",
  );
  out.push(`vigil_store_verify_last_ok ${v.ok ? 1 : 0}`);
  family(
    "vigil_store_verify_last_timestamp_seconds",
    "gauge",
    "Unix time the last full verification finished.",
  );
  out.push(`vigil_store_verify_last_timestamp_seconds ${(v.finishedAt / 1000).toFixed(3)}`);
  family("vigil_store_verify_last_duration_seconds", "gauge", "How long it took.");
  out.push(
    `vigil_store_verify_last_duration_seconds ${((v.finishedAt - v.startedAt) / 1000).toFixed(3)}`,
  );
  family("vigil_store_verify_last_events", "gauge", "Events it verified.");
  out.push(`vigil_store_verify_last_events ${v.events}`);
}

/** The process's memory as `Deno.memoryUsage()` gives it (the main thread's heap). */
export type ProcessMemory = Pick<Deno.MemoryUsage, "rss" | "heapTotal" | "heapUsed" | "external">;

/**
 * Renders the snapshot; `nowMs` is the wall time for ages, `memory` the process's now (where it
 * goes: RSS beside the main heap and what JavaScript holds outside it; the rest is native —
 * SQLite, the Workers, the allocator's free lists — and the binary's code).
 */
export function renderMetrics(
  status: ServeStatus,
  nowMs: number,
  memory: ProcessMemory = Deno.memoryUsage(),
): string {
  const out: string[] = [];
  const family: Family = (name, type, help) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const src = (s: { name: string }): string => `source="${label(s.name)}"`;

  family("vigil_build_info", "gauge", "Vigil's version.");
  out.push(`vigil_build_info{version="${label(status.version)}"} 1`);
  family("vigil_up", "gauge", "1 when the store (intact), every source and detection are healthy.");
  out.push(`vigil_up ${status.healthy ? 1 : 0}`);
  family("vigil_uptime_seconds", "gauge", "Seconds since the daemon started.");
  out.push(`vigil_uptime_seconds ${((nowMs - status.startedAt) / 1000).toFixed(3)}`);
  family("vigil_process_resident_bytes", "gauge", "Resident memory of the daemon (RSS).");
  out.push(`vigil_process_resident_bytes ${memory.rss}`);
  family("vigil_process_heap_bytes", "gauge", "The main thread's V8 heap: used and total.");
  out.push(`vigil_process_heap_bytes{kind="used"} ${memory.heapUsed}`);
  out.push(`vigil_process_heap_bytes{kind="total"} ${memory.heapTotal}`);
  family(
    "vigil_process_external_bytes",
    "gauge",
    "Memory the main thread's JavaScript objects hold outside the heap (buffers).",
  );
  out.push(`vigil_process_external_bytes ${memory.external}`);

  const st = status.store;
  family("vigil_store_events", "gauge", "Events in the store's log (the next seq).");
  out.push(`vigil_store_events ${st.size}`);
  family("vigil_store_bytes", "gauge", "Bytes of the data directory's files.");
  out.push(`vigil_store_bytes ${st.bytes}`);
  if (st.diskFreeBytes !== null) {
    family("vigil_store_disk_free_bytes", "gauge", "Free bytes on the data directory's disk.");
    out.push(`vigil_store_disk_free_bytes ${st.diskFreeBytes}`);
  }
  family("vigil_store_up", "gauge", "0 after a failed write (e.g. disk full) until one succeeds.");
  out.push(`vigil_store_up ${st.lastError === null ? 1 : 0}`);
  family(
    "vigil_store_commit_seconds",
    "gauge",
    "Write and fdatasync time of recent group commits.",
  );
  out.push(`vigil_store_commit_seconds{quantile="0.5"} ${st.commitSeconds.p50}`);
  out.push(`vigil_store_commit_seconds{quantile="0.99"} ${st.commitSeconds.p99}`);
  if (st.lastCheckpoint !== null) {
    family("vigil_store_checkpoint_size", "gauge", "Tree size of the latest signed checkpoint.");
    out.push(`vigil_store_checkpoint_size ${st.lastCheckpoint.size}`);
  }
  if (st.integrity !== undefined) integrityMetrics(st.integrity, family, out);
  if (st.indexLag !== undefined) {
    family(
      "vigil_index_lag_events",
      "gauge",
      "Durable events the search index does not hold yet (searches read them from the log).",
    );
    out.push(`vigil_index_lag_events ${st.indexLag}`);
  }

  const sources = status.sources;
  family("vigil_source_up", "gauge", "1 while the source runs without failure.");
  for (const s of sources) out.push(`vigil_source_up{${src(s)}} ${s.healthy ? 1 : 0}`);
  family("vigil_source_events_total", "counter", "Events stored from the source.");
  for (const s of sources) out.push(`vigil_source_events_total{${src(s)}} ${s.events}`);
  family("vigil_source_bytes_total", "counter", "Canonical JSON bytes stored from the source.");
  for (const s of sources) out.push(`vigil_source_bytes_total{${src(s)}} ${s.bytes}`);
  family("vigil_source_errors_total", "counter", "Failed runs of the source.");
  for (const s of sources) out.push(`vigil_source_errors_total{${src(s)}} ${s.errors}`);
  family("vigil_source_restarts_total", "counter", "Restarts of the source after a failure.");
  for (const s of sources) out.push(`vigil_source_restarts_total{${src(s)}} ${s.restarts}`);
  family(
    "vigil_source_last_event_age_seconds",
    "gauge",
    "Wall time minus the event time of the newest stored event.",
  );
  for (const s of sources) {
    if (s.lastEventTs === null) continue;
    const age = Math.max(0, nowMs / 1000 - s.lastEventTs / 1e6);
    out.push(`vigil_source_last_event_age_seconds{${src(s)}} ${age.toFixed(3)}`);
  }
  const gauges = new Set(sources.flatMap((s) => Object.keys(s.gauges)));
  for (const g of [...gauges].sort()) {
    const name = `vigil_source_${gaugeName(g)}`;
    // Each plugin says what its gauge means; two types may mean different things by one name.
    const helps = new Set(sources.flatMap((s) => s.gaugeHelp?.[g] ?? []));
    const help = [...helps].join(" / ").replace(/[\\\n]/g, " ");
    family(name, "gauge", help === "" ? `Source gauge ${gaugeName(g)}.` : help);
    for (const s of sources) {
      const v = s.gauges[g];
      if (v !== undefined) out.push(`${name}{${src(s)}} ${v}`);
    }
  }
  return out.join("\n") + "\n";
}
