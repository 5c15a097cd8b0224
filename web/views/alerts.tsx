/** A table of alerts, with an acknowledge button where the viewer may acknowledge. */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { Alert } from "../deps.ts";
import { eventTime } from "./format.ts";
import { Csrf } from "./layout.tsx";
import { Text } from "./text.tsx";

function seqCell(seq: number, i: number, link: boolean | undefined): JSX.Element {
  const sep = i > 0 ? ", " : "";
  return link
    ? (
      <>
        {sep}
        <a href={`/events/${seq}`}>{seq}</a>
      </>
    )
    : <>{sep}{seq}</>;
}

/** The alerts; `csrf` set shows acknowledge buttons on open ones. */
export const AlertTable = (
  { alerts, csrf, linkSeqs }: {
    alerts: readonly Alert[];
    csrf?: string | null;
    linkSeqs?: boolean;
  },
): JSX.Element => (
  <table class="alerts">
    <thead>
      <tr>
        <th>severity</th>
        <th>rule</th>
        <th>when (event time)</th>
        <th>role</th>
        <th>client</th>
        <th>db</th>
        <th>reason</th>
        <th>events</th>
        <th>reviewed</th>
      </tr>
    </thead>
    <tbody>
      {alerts.map((a) => (
        <tr data-alert={String(a.id)}>
          <td class={a.severity === "high" || a.severity === "critical" ? "bad" : "warn"}>
            {a.severity}
          </td>
          <td>
            <Text value={a.rule} />
          </td>
          <td>
            {eventTime(a.ts_from)} – {eventTime(a.ts_to)}
          </td>
          <td>
            <Text value={a.role} />
          </td>
          <td>
            <Text value={a.client_addr} />
          </td>
          <td>
            <Text value={a.db} />
          </td>
          <td>
            <Text value={a.reason} />
          </td>
          <td>
            {a.seqs.slice(0, 5).map((s, i) => seqCell(s, i, linkSeqs))}
            {a.seqs.length > 5 ? ` … (${a.seqs.length})` : ""}
          </td>
          <td>
            {a.ack
              ? (
                <span>
                  <Text value={a.ack.by} /> {eventTime(a.ack.ts)}
                  {a.ack.note
                    ? (
                      <>
                        : <Text value={a.ack.note} />
                      </>
                    )
                    : null}
                </span>
              )
              : csrf
              ? (
                <form
                  class="inline"
                  method="post"
                  action={`/alerts/${a.id}/ack`}
                >
                  <Csrf token={csrf} />
                  <input name="note" placeholder="note" maxlength={500} />
                  <button type="submit">Acknowledge</button>
                </form>
              )
              : <span class="warn">open</span>}
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);
