/**
 * The Operator page: is collection working? Per source state, throughput, lag, freshness and
 * errors; charts over the last hour or day; the store's size, disk headroom and integrity (its
 * start checks and background verification, a damaged store as an alarm); open alerts.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { User } from "../../daemon/access/mod.ts";
import type { ServeStatus, SourceStatus, StatusSample } from "../../daemon/serve/status.ts";
import type { Alert } from "../deps.ts";
import { AlertTable } from "./alerts.tsx";
import { SourceChart } from "./chart.tsx";
import { age, bytes, count, rate, wallTime } from "./format.ts";
import { DamageNotice, IntegrityCard } from "./integrity.tsx";
import { Layout } from "./layout.tsx";
import { Text } from "./text.tsx";

/** Below this share of free disk, headroom shows as a warning. */
const LOW_DISK = 0.1;

function stateClass(s: SourceStatus): string {
  if (s.state === "running" && s.healthy) return "ok";
  return s.state === "backoff" || !s.healthy ? "bad" : "warn";
}

function lastRate(samples: readonly StatusSample[]): number | null {
  return samples.length ? samples[samples.length - 1]!.eventsPerSecond : null;
}

/** The page. */
export const OperatorPage = (
  { user, csrf, status, series, window, now, alerts, canAck, canSeeEvents }: {
    user: User;
    csrf: string;
    status: ServeStatus;
    series: Map<string, readonly StatusSample[]>;
    window: "hour" | "day";
    now: number;
    alerts: readonly Alert[] | null;
    canAck: boolean;
    canSeeEvents: boolean;
  },
): JSX.Element => {
  const st = status.store;
  const total = st.diskFreeBytes === null ? null : st.diskFreeBytes + st.bytes;
  const lowDisk = total !== null && st.diskFreeBytes !== null &&
    st.diskFreeBytes / total < LOW_DISK;
  return (
    <Layout title="Operator" user={user} csrf={csrf} active="/operator">
      <div class="cards">
        <div class="card">
          <div>Daemon</div>
          <div class={status.healthy ? "big ok" : "big bad"} id="daemon-health">
            {status.healthy ? "healthy" : "unhealthy"}
          </div>
          <small>
            version {status.version}, up {age((now - status.startedAt) / 1000)}
          </small>
        </div>
        <div class="card">
          <div>Store</div>
          <div class="big">{count(st.size)} events</div>
          <small>
            {bytes(st.bytes)} in segments; commit p50 {(st.commitSeconds.p50 * 1000).toFixed(1)}
            {" "}
            ms, p99 {(st.commitSeconds.p99 * 1000).toFixed(1)} ms
          </small>
          {st.indexLag === undefined ? null : (
            <small class="index-lag">
              {st.indexLag === 0
                ? "search index up to date"
                : `search index ${count(st.indexLag)} events behind (read from the log meanwhile)`}
            </small>
          )}
        </div>
        <div class="card">
          <div>Disk headroom</div>
          <div class={lowDisk ? "big bad" : "big"}>{bytes(st.diskFreeBytes)} free</div>
          <small>{st.dataDir}</small>
        </div>
        <div class="card">
          <div>Last checkpoint</div>
          <div class="big">{st.lastCheckpoint ? count(st.lastCheckpoint.size) : "none"}</div>
          <small>{st.lastCheckpoint ? st.lastCheckpoint.time : "not signed yet"}</small>
        </div>
        {st.integrity ? <IntegrityCard integrity={st.integrity} /> : null}
      </div>
      <DamageNotice integrity={st.integrity} />
      {st.lastError
        ? (
          <p class="notice bad" role="alert">
            Store error at {wallTime(st.lastError.at)}: <Text value={st.lastError.message} />
          </p>
        )
        : null}
      <h2>Sources</h2>
      <table class="sources">
        <thead>
          <tr>
            <th>source</th>
            <th>type</th>
            <th>state</th>
            <th class="num">events/s</th>
            <th class="num">lag</th>
            <th>last event age</th>
            <th class="num">events</th>
            <th class="num">errors</th>
            <th class="num">restarts</th>
            <th>last error</th>
          </tr>
        </thead>
        <tbody>
          {status.sources.map((s) => {
            const r = lastRate(series.get(s.name) ?? []);
            const lag = s.gauges.lag_bytes;
            return (
              <tr data-source={s.name}>
                <td>
                  <Text value={s.name} />
                </td>
                <td>{s.type}</td>
                <td class={stateClass(s)}>
                  {s.state}
                  {s.healthy ? "" : " (unhealthy)"}
                </td>
                <td class="num">{r === null ? "—" : rate(r)}</td>
                <td class="num">{lag === undefined ? "—" : bytes(lag)}</td>
                <td>
                  {s.lastEventTs === null ? "never" : age((now - s.lastEventTs / 1000) / 1000)}
                </td>
                <td class="num">{count(s.events)}</td>
                <td class="num">{count(s.errors)}</td>
                <td class="num">{s.restarts}</td>
                <td>
                  {s.lastError
                    ? (
                      <span>
                        {wallTime(s.lastError.at)} {s.lastError.stage}:{" "}
                        <Text value={s.lastError.message} />
                      </span>
                    )
                    : "—"}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>
        Throughput over the last {window}{" "}
        <small>
          (<a href={window === "hour" ? "/operator?window=day" : "/operator?window=hour"}>
            {window === "hour" ? "show the last day" : "show the last hour"}
          </a>; solid: events/s, dashed: lag)
        </small>
      </h2>
      <div class="cards">
        {status.sources.map((s) => (
          <div class="card">
            <div>
              <Text value={s.name} />
            </div>
            <SourceChart
              source={s.name}
              samples={series.get(s.name) ?? []}
              window={window}
              now={now}
            />
          </div>
        ))}
      </div>
      <h2>Open alerts</h2>
      {alerts === null
        ? <p class="muted">Alerting is not configured.</p>
        : alerts.length === 0
        ? <p class="muted">No open alerts.</p>
        : <AlertTable alerts={alerts} csrf={canAck ? csrf : null} linkSeqs={canSeeEvents} />}
    </Layout>
  );
};
