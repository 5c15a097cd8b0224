/** The evidence pack as a printable page. */

import { ConfigurationSection } from "./configuration.tsx";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { User } from "../../daemon/access/mod.ts";
import type { EvidencePack } from "../evidence.ts";
import { count } from "./format.ts";
import { CoverageTable } from "./coverage_table.tsx";
import { Layout } from "./layout.tsx";
import { Text } from "./text.tsx";

/** The page. */
export const EvidencePage = (
  { user, csrf, pack, query }: { user: User; csrf: string; pack: EvidencePack; query: string },
): JSX.Element => (
  <Layout title="Evidence pack" user={user} csrf={csrf} active="/management">
    <p>
      Period {pack.period.from} to {pack.period.to} (event time, end exclusive). Generated{" "}
      {pack.generated_at} by <Text value={pack.generated_by} />. Appliance key{" "}
      {pack.appliance.key_id}, {count(pack.appliance.store_events)} events in the store.{" "}
      <a class="noprint" href={`/management/evidence.json?${query}`}>JSON</a>
    </p>
    <h2>Verification</h2>
    {pack.verification.latest
      ? (
        <p id="evidence-verify">
          Latest run {pack.verification.latest.finished_at} by{" "}
          <Text value={pack.verification.latest.byUser} />:{" "}
          <span class={pack.verification.latest.ok ? "ok" : "bad"}>
            {pack.verification.latest.ok ? "intact" : "problem found"}
          </span>{" "}
          ({count(pack.verification.latest.events)} events, {pack.verification.latest.checkpoints}
          {" "}
          checkpoints)
          {pack.verification.latest.problem
            ? (
              <>
                : <Text value={pack.verification.latest.problem} />
              </>
            )
            : null}. {pack.verification.runs_in_period} runs finished within the period.
        </p>
      )
      : <p class="warn">No verification has been run from the UI.</p>}
    <h2>Signed checkpoint</h2>
    {pack.checkpoint
      ? (
        <p>
          Tree of {count(pack.checkpoint.size)} events, root{" "}
          <code>{pack.checkpoint.root}</code>, signed {pack.checkpoint.signed_at}, signature{" "}
          <span class={pack.checkpoint.signature_ok ? "ok" : "bad"}>
            {pack.checkpoint.signature_ok ? "valid" : "INVALID"}
          </span>.
        </p>
      )
      : <p class="warn">None signed yet.</p>}
    <h2>Collected per source</h2>
    {pack.sources === null ? <p class="warn">No search index; not available.</p> : (
      <CoverageTable
        rows={pack.sources.map((s) => ({ ...s, first: s.first ?? "—", last: s.last ?? "—" }))}
      />
    )}
    <h2>Gaps reported</h2>
    {pack.gaps_total > pack.gaps.length
      ? (
        <p class="bad" id="gaps-cut">
          {count(pack.gaps_total)} gaps reported in the period; the newest {count(pack.gaps.length)}
          {" "}
          are listed. Make a pack of a shorter period for the others.
        </p>
      )
      : null}
    {pack.gaps.length === 0 ? <p class="ok">None.</p> : (
      <table>
        <thead>
          <tr>
            <th class="num">seq</th>
            <th>time</th>
            <th>source</th>
            <th>type</th>
            <th>what</th>
            <th>detail</th>
          </tr>
        </thead>
        <tbody>
          {pack.gaps.map((g) => (
            <tr>
              <td class="num">{g.seq}</td>
              <td>{g.ts}</td>
              <td>
                <Text value={g.source} />
              </td>
              <td class={g.type === "gap" ? "bad" : "ok"}>{g.type}</td>
              <td>
                <Text value={g.command} />
              </td>
              <td>
                <Text value={g.detail} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
    <h2>Alerts and their review</h2>
    {pack.alerts_cut
      ? (
        <p class="bad" id="alerts-cut">
          More alerts were raised in the period than the {count(pack.alerts?.length ?? 0)}{" "}
          listed. Make a pack of a shorter period for the others.
        </p>
      )
      : null}
    {pack.alerts === null
      ? <p class="muted">Alerting is not configured.</p>
      : pack.alerts.length === 0
      ? <p>No alerts in the period.</p>
      : (
        <table>
          <thead>
            <tr>
              <th>severity</th>
              <th>rule</th>
              <th>when</th>
              <th>reason</th>
              <th>reviewed by</th>
              <th>reviewed at</th>
            </tr>
          </thead>
          <tbody>
            {pack.alerts.map((a) => (
              <tr>
                <td>{a.severity}</td>
                <td>
                  <Text value={a.rule} />
                </td>
                <td>
                  {a.from} – {a.to}
                </td>
                <td>
                  <Text value={a.reason} />
                </td>
                <td class={a.reviewed_by === null ? "bad" : undefined}>
                  {a.reviewed_by === null ? "not reviewed" : <Text value={a.reviewed_by} />}
                </td>
                <td>{a.reviewed_at ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    <ConfigurationSection
      configs={pack.configuration.map((c) => ({ ...c, ts: 0, readAt: c.read_at }))}
    />
    <h2>Public key</h2>
    <pre class="block">{pack.appliance.public_key_pem}</pre>
  </Layout>
);
