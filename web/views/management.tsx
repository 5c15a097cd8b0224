/**
 * The Management page: compliance at a glance — the daemon's own checks of the store (at start
 * and daily in the background, a damaged store as an alarm), the last verification from the UI
 * and a button to run one, the latest signed checkpoint, coverage per source and reported gaps
 * in a period, the configuration in force on each watched database, the export targets, and the
 * evidence pack form.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { User, VerifyRun } from "../../daemon/access/mod.ts";
import type { IntegrityStatus } from "../../daemon/serve/status.ts";
import type { Checkpoint } from "../../daemon/store/checkpoint.ts";
import type { Coverage, GapList } from "../compliance.ts";
import type { ExportTargetState } from "../deps.ts";
import { count, eventTime, wallTime } from "./format.ts";
import { CoverageTable } from "./coverage_table.tsx";
import { ConfigurationSection } from "./configuration.tsx";
import type { ConfigView } from "../configuration.ts";
import { BackgroundVerification } from "./integrity.tsx";
import { Csrf, Layout } from "./layout.tsx";
import { Text } from "./text.tsx";

/** The latest verification result. */
export const VerifyResult = ({ run }: { run: VerifyRun | null }): JSX.Element =>
  run
    ? (
      <p id="verify-result">
        <span class={run.ok ? "ok" : "bad"}>{run.ok ? "Intact" : "Problem found"}</span>: verified
        {" "}
        {count(run.events)} events and {run.checkpoints} signed checkpoints, finished{" "}
        {wallTime(run.finishedAt)}, run by <Text value={run.byUser} />.
        {run.problem
          ? (
            <>
              First problem: <Text value={run.problem} />
            </>
          )
          : null}
      </p>
    )
    : <p id="verify-result" class="warn">Never verified from the UI.</p>;

/** Says so when the gap list holds fewer gaps than the period: never a silent cut. */
export const GapsCut = ({ gaps }: { gaps: GapList }): JSX.Element | null =>
  gaps.total > gaps.events.length
    ? (
      <p class="bad" id="gaps-cut">
        {count(gaps.total)} gaps reported in this period; the newest {count(gaps.events.length)}
        {" "}
        are listed. Narrow the period to see the others.
      </p>
    )
    : null;

/** The page. */
export const ManagementPage = (p: {
  user: User;
  csrf: string;
  lastRun: VerifyRun | null;
  running: { by: string; since: number } | null;
  checkpoint: { checkpoint: Checkpoint; signatureOk: boolean; count: number } | null;
  storeSize: number;
  period: { from: string; to: string };
  coverage: Coverage[] | null;
  /** The latest configuration reading of each WAL source (null: no index); absent: not shown. */
  configuration?: ConfigView[] | null;
  gaps: GapList;
  exports: readonly ExportTargetState[] | null;
  /** The daemon's own checks of the store, when it runs them. */
  integrity?: IntegrityStatus | undefined;
}): JSX.Element => (
  <Layout
    title="Management"
    user={p.user}
    csrf={p.csrf}
    active="/management"
    refreshSeconds={p.running ? 3 : 0}
  >
    <h2>Integrity</h2>
    <BackgroundVerification integrity={p.integrity} />
    <VerifyResult run={p.lastRun} />
    {p.running
      ? (
        <p class="notice">
          Verification running since {wallTime(p.running.since)} (started by{" "}
          <Text value={p.running.by} />); this page refreshes.
        </p>
      )
      : (
        <form method="post" action="/management/verify" class="stack">
          <Csrf token={p.csrf} />
          <button type="submit">Verify the whole store now</button>
        </form>
      )}
    <h2>Latest signed checkpoint</h2>
    {p.checkpoint
      ? (
        <dl class="fields" id="checkpoint">
          <dt>tree size</dt>
          <dd>
            {count(p.checkpoint.checkpoint.size)} of {count(p.storeSize)} events
          </dd>
          <dt>signed</dt>
          <dd>{eventTime(p.checkpoint.checkpoint.ts)}</dd>
          <dt>root</dt>
          <dd>
            <code>{p.checkpoint.checkpoint.root}</code>
          </dd>
          <dt>key</dt>
          <dd>
            {p.checkpoint.checkpoint.key_id} (<a href="/keys/signing.pub.pem">public key</a>)
          </dd>
          <dt>signature</dt>
          <dd class={p.checkpoint.signatureOk ? "ok" : "bad"}>
            {p.checkpoint.signatureOk ? "valid" : "INVALID"}
          </dd>
          <dt>checkpoints</dt>
          <dd>{p.checkpoint.count}</dd>
        </dl>
      )
      : <p class="warn">No checkpoint has been signed yet.</p>}
    <h2>Coverage</h2>
    <form method="get" action="/management" class="stack">
      <label>
        from (UTC)
        <input name="from" value={p.period.from} />
      </label>
      <label>
        to (UTC)
        <input name="to" value={p.period.to} />
      </label>
      <button type="submit" class="secondary">Show</button>
    </form>
    {p.coverage === null
      ? <p class="warn">No search index: coverage is not available until it is built.</p>
      : (
        <CoverageTable
          id="coverage"
          rows={p.coverage.map((c) => ({
            ...c,
            first: c.first === null ? "—" : eventTime(c.first),
            last: c.last === null ? "—" : eventTime(c.last),
          }))}
        />
      )}
    <h2>Reported gaps</h2>
    <GapsCut gaps={p.gaps} />
    {p.gaps.events.length === 0
      ? <p class="ok" id="gaps">No gaps reported in this period.</p>
      : (
        <table id="gaps">
          <thead>
            <tr>
              <th class="num">seq</th>
              <th>time</th>
              <th>source</th>
              <th>what</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {p.gaps.events.map((e) => (
              <tr>
                <td class="num">
                  <a href={`/events/${e.seq}`}>{e.seq}</a>
                </td>
                <td>{eventTime(e.ts)}</td>
                <td>
                  <Text value={e.source} />
                </td>
                <td>
                  <Text value={e.command} />
                </td>
                <td>
                  <Text value={e.error ?? (e.context ? JSON.stringify(e.context) : undefined)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    {p.configuration === undefined ? null : <ConfigurationSection configs={p.configuration} />}
    <h2>Exports</h2>
    {p.exports === null
      ? <p class="muted">Export targets are not configured.</p>
      : (
        <table id="exports">
          <thead>
            <tr>
              <th>target</th>
              <th>type</th>
              <th>state</th>
              <th>last run</th>
              <th>last success</th>
              <th>location</th>
              <th class="num">events exported</th>
              <th>next run</th>
              <th>last error</th>
            </tr>
          </thead>
          <tbody>
            {p.exports.map((t) => (
              <tr>
                <td>
                  <Text value={t.name} />
                </td>
                <td>{t.type}</td>
                <td class={t.state === "ok" ? "ok" : t.state === "failed" ? "bad" : undefined}>
                  {t.state}
                </td>
                <td>{t.lastRunAt === null ? "never" : eventTime(t.lastRunAt)}</td>
                <td>{t.lastSuccessAt === null ? "never" : eventTime(t.lastSuccessAt)}</td>
                <td>
                  <Text value={t.location} />
                </td>
                <td class="num">{count(t.exportedEnd)}</td>
                <td>{t.nextRunAt === null ? "—" : eventTime(t.nextRunAt)}</td>
                <td>
                  <Text value={t.lastError} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    <h2>Download a bundle</h2>
    <p class="muted">
      The signed events of a period as an air-gapped bundle — Parquet files, the signed manifest and
      the public key in one <code>.tar</code> — for <code>vigil verify-bundle</code> offline.
    </p>
    <form method="post" action="/management/bundle" class="stack" id="bundle-form">
      <Csrf token={p.csrf} />
      <label>
        from (UTC)
        <input name="from" value={p.period.from} required />
      </label>
      <label>
        to (UTC)
        <input name="to" value={p.period.to} required />
      </label>
      <button type="submit">Download bundle</button>
    </form>
    <h2>Evidence pack</h2>
    <form method="get" action="/management/evidence" class="stack">
      <label>
        from (UTC)
        <input name="from" value={p.period.from} required />
      </label>
      <label>
        to (UTC)
        <input name="to" value={p.period.to} required />
      </label>
      <button type="submit">Printable page</button>
      <button type="submit" formaction="/management/evidence.json" class="secondary">JSON</button>
    </form>
  </Layout>
);
