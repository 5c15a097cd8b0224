/** The event search form, its result table and pager. */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { User } from "../../daemon/access/mod.ts";
import { type AuditEvent, EVENT_KINDS } from "../../daemon/event/model.ts";
import { FORM_TEXT_PARAMS, type SearchPage } from "../search.ts";
import { eventTime } from "./format.ts";
import { Layout } from "./layout.tsx";
import { Text } from "./text.tsx";

/** The longest statement excerpt in the table; the event page shows it whole. */
const EXCERPT = 240;

function excerpt(e: AuditEvent): string | undefined {
  const s = e.statement ?? e.error ?? e.raw;
  if (s === undefined) return undefined;
  const chars = [...s];
  return chars.length > EXCERPT ? chars.slice(0, EXCERPT - 1).join("") + "…" : s;
}

function kindOption(kind: string, chosen: string | undefined): JSX.Element {
  return <option value={kind} selected={kind === chosen}>{kind}</option>;
}

/** The form, prefilled with the request's values. */
const SearchForm = ({ values }: { values: Record<string, string> }): JSX.Element => (
  <form class="filters" method="get" action="/events" role="search">
    {FORM_TEXT_PARAMS.map((k) => (
      <label>
        {k}
        <input name={k} value={values[k] ?? ""} />
      </label>
    ))}
    <label>
      kind
      <select name="kind">
        <option value="">any</option>
        {EVENT_KINDS.map((k) =>
          kindOption(k, values.kind)
        )}
      </select>
    </label>
    <label>
      from (UTC, inclusive)
      <input name="from" value={values.from ?? ""} placeholder="2026-01-01T00:00:00Z" />
    </label>
    <label>
      to (UTC, exclusive)
      <input name="to" value={values.to ?? ""} placeholder="2026-02-01T00:00:00Z" />
    </label>
    <label>
      text in statement
      <input name="text" value={values.text ?? ""} type="search" />
    </label>
    <button type="submit">Search</button>
  </form>
);

/** The search page. */
export const EventsPage = ({ user, csrf, values, page, error, query, before }: {
  user: User;
  csrf: string;
  values: Record<string, string>;
  page: SearchPage | null;
  error?: string | undefined;
  query: string;
  before: number | undefined;
}): JSX.Element => (
  <Layout title="Events" user={user} csrf={csrf} active="/events">
    <SearchForm values={values} />
    {error ? <p class="notice bad" role="alert">{error}</p> : null}
    {page?.noIndex
      ? <p class="notice">There is no search index yet; the log was scanned (slower).</p>
      : null}
    {page
      ? (
        <>
          <table class="events">
            <thead>
              <tr>
                <th class="num">seq</th>
                <th>time</th>
                <th>source</th>
                <th>kind</th>
                <th>role</th>
                <th>db</th>
                <th>command</th>
                <th>object</th>
                <th>statement</th>
              </tr>
            </thead>
            <tbody>
              {page.events.map((e) => (
                <tr>
                  <td class="num">
                    <a href={`/events/${e.seq}`}>{e.seq}</a>
                  </td>
                  <td>{eventTime(e.ts)}</td>
                  <td>
                    <Text value={e.source} />
                  </td>
                  <td>{e.kind}</td>
                  <td>
                    <Text value={e.role} />
                  </td>
                  <td>
                    <Text value={e.db} />
                  </td>
                  <td>
                    <Text value={e.command} />
                  </td>
                  <td>
                    <Text value={e.object} />
                  </td>
                  <td class="stmt">
                    <Text value={excerpt(e)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.events.length === 0 ? <p class="muted">No events match.</p> : null}
          <div class="pager">
            {before !== undefined ? <a href={`/events?${query}`}>« Newest</a> : null}
            {page.next !== null
              ? (
                <a rel="next" href={`/events?${query}${query ? "&" : ""}before=${page.next}`}>
                  Older »
                </a>
              )
              : null}
            <a class="noprint" href={`/events/export.jsonl?${query}`}>
              Download these results (JSON lines)
            </a>
          </div>
        </>
      )
      : null}
  </Layout>
);
