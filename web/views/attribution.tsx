/**
 * The attribution part of the event page: for a row change, the statement that made it (who,
 * from where, with which application and session, the statement text) and, when pgAudit logged
 * it, the parameters and row count of its line; for a statement message, its row changes. All
 * of it comes from the log (the index only links seqs), and all of it is database text, shown
 * as text.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { AuditEvent } from "../../daemon/event/model.ts";
import { Text } from "./text.tsx";

/** The linked events of one event, read from the log. */
export interface AttributionView {
  /** For a row change: the statement message that made it. */
  statement?: AuditEvent;
  /** The pgAudit line of that statement (or of this statement message). */
  line?: AuditEvent;
  /** For a statement message: its row changes (the first ones). */
  rows?: AuditEvent[];
  /** For a statement message: more row changes than listed. */
  more?: boolean;
}

function Field({ name, value }: { name: string; value: unknown }): JSX.Element | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return (
    <>
      <dt>{name}</dt>
      <dd class={name === "statement" ? "stmt" : undefined}>
        <Text value={text} />
      </dd>
    </>
  );
}

const EventLink = ({ ev }: { ev: AuditEvent }): JSX.Element => (
  <a href={`/events/${ev.seq}`}>event {ev.seq}</a>
);

/** The attribution section; nothing when the index links nothing to the event. */
export const Attribution = ({ event, view }: {
  event: AuditEvent;
  view: AttributionView | null;
}): JSX.Element | null => {
  if (view === null) return null;
  const stmt = view.statement ?? (event.command === "STATEMENT" ? event : undefined);
  if (stmt === undefined && view.line === undefined && view.rows === undefined) return null;
  const ctx = stmt?.context ?? {};
  return (
    <section id="attribution">
      <h2>{view.statement !== undefined ? "Made by" : "Statement"}</h2>
      <dl class="fields">
        {view.statement !== undefined && (
          <>
            <dt>statement message</dt>
            <dd>
              <EventLink ev={view.statement} />
            </dd>
          </>
        )}
        {stmt !== undefined && (
          <>
            <Field name="role" value={stmt.role} />
            <Field name="current_user" value={ctx.current_user} />
            <Field name="client_addr" value={stmt.client_addr} />
            <Field name="client_port" value={ctx.client_port} />
            <Field name="application_name" value={stmt.application_name} />
            <Field name="app_user" value={stmt.app_user} />
            <Field name="session_id" value={stmt.session_id} />
            <Field name="pid" value={stmt.pid} />
            <Field name="vxid" value={ctx.vxid} />
            <Field name="xid" value={stmt.xid} />
            <Field name="statement" value={stmt.statement} />
          </>
        )}
        {view.line !== undefined
          ? (
            <>
              <dt>pgAudit line</dt>
              <dd>
                <EventLink ev={view.line} />
              </dd>
              <Field name="params" value={view.line.params} />
              <Field name="rows" value={view.line.rows} />
            </>
          )
          : (
            <>
              <dt>pgAudit line</dt>
              <dd>none joined (yet): parameters are only in pgAudit's log</dd>
            </>
          )}
      </dl>
      {view.rows !== undefined && (
        <>
          <h2>Row changes of this statement</h2>
          <ul id="statement-rows">
            {view.rows.map((r) => (
              <li>
                <EventLink ev={r} /> <Text value={`${r.command ?? ""} ${r.object ?? ""}`} />
              </li>
            ))}
            {view.more && <li>… more: search by xid {String(event.xid ?? "")}</li>}
          </ul>
        </>
      )}
    </section>
  );
};
