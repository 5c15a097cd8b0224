/**
 * The configuration view: the latest reading of what is in force on each watched database
 * (`web/configuration.ts`), as the Management page's section and the evidence page's; and the
 * pgAudit scope table of the Administration page. Every value came from a database: text only.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { JsonObject } from "../../daemon/event/model.ts";
import { type ConfigView, pgauditScopes, str } from "../configuration.ts";
import { eventTime } from "./format.ts";
import { Text } from "./text.tsx";

const SHOWN_SETTINGS = [
  "pgaudit.log",
  "pgaudit.log_catalog",
  "pgaudit.log_parameter",
  "pgaudit.log_relation",
  "pgaudit.log_statement_once",
  "pgaudit.role",
  "log_connections",
  "log_disconnections",
  "log_destination",
  "logging_collector",
  "shared_preload_libraries",
];

function obj(v: unknown): JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v as JsonObject : {};
}

/** One source's reading. */
function Reading({ view, readAt }: { view: ConfigView; readAt: string }): JSX.Element {
  const r = view.reading;
  const install = obj(r.install);
  const problems = Array.isArray(install.problems) ? install.problems.map(String) : [];
  const triggers = Object.entries(obj(install.event_triggers));
  const pub = obj(r.publication);
  const excluded = Array.isArray(pub.excluded) ? pub.excluded.map(String) : [];
  return (
    <section class="configuration" data-source={view.source}>
      <h3>
        <Text value={view.source} /> — database <Text value={view.db} />
      </h3>
      <p>
        Read at {readAt} (<a href={`/events/${view.seq}`}>event {view.seq}</a>).
      </p>
      <table>
        <tbody>
          {SHOWN_SETTINGS.map((name) => (
            <tr>
              <th>
                <Text value={name} />
              </th>
              <td>
                <Text value={str(r.settings, name)} />
              </td>
            </tr>
          ))}
          <tr>
            <th>session_replication_role (Vigil's session)</th>
            <td>
              <Text value={str(r, "session_replication_role")} />
            </td>
          </tr>
          <tr>
            <th>event triggers</th>
            <td>
              {triggers.length === 0
                ? <span class="bad">none</span>
                : triggers.map(([n, s]) => (
                  <span class={s === "A" ? "ok" : "bad"}>
                    <Text value={`${n}: ${s === "A" ? "ALWAYS" : String(s)} `} />
                  </span>
                ))}
            </td>
          </tr>
          <tr>
            <th>vigil pg-install</th>
            <td>
              {problems.length === 0 ? <span class="ok">whole</span> : (
                <span class="bad">
                  <Text value={problems.join("; ")} />
                </span>
              )}
            </td>
          </tr>
          <tr>
            <th>publication</th>
            <td>
              <Text value={str(pub, "name")} />: {pub.exists === true
                ? `${pub.all_tables === true ? "FOR ALL TABLES" : "table list"}, ${
                  String(pub.table_count ?? "?")
                } tables`
                : <span class="bad">missing</span>}
              {excluded.length > 0
                ? (
                  <span class="bad">
                    ; left out: <Text value={excluded.join(", ")} />
                  </span>
                )
                : null}
            </td>
          </tr>
        </tbody>
      </table>
      <PgauditScopeTable view={view} />
    </section>
  );
}

/** pgAudit's scope in force per database and role, for one source's database. */
export function PgauditScopeTable({ view }: { view: ConfigView }): JSX.Element {
  return (
    <table class="pgaudit-scope">
      <thead>
        <tr>
          <th>scope</th>
          <th>pgaudit.log</th>
        </tr>
      </thead>
      <tbody>
        {pgauditScopes(view.reading).map((row) => (
          <tr>
            <td>
              <Text value={row.scope} />
            </td>
            <td>
              <Text value={row.value} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The section: one reading per source, or why there is none. */
export function ConfigurationSection(
  { configs, id = "configuration" }: {
    configs: (ConfigView & { readAt?: string })[] | null;
    id?: string;
  },
): JSX.Element {
  return (
    <div id={id}>
      <h2>Configuration in force</h2>
      {configs === null
        ? <p class="warn">No search index: the configuration is shown once it is built.</p>
        : configs.length === 0
        ? <p class="warn">No WAL source has read back a database's configuration yet.</p>
        : configs.map((view) => (
          <Reading key={view.seq} view={view} readAt={view.readAt ?? eventTime(view.ts)} />
        ))}
    </div>
  );
}

/** The Administration page's table: pgAudit's scope per source's database and role. */
export function PgauditScopes({ configs }: { configs: ConfigView[] }): JSX.Element {
  return (
    <div id="pgaudit-scopes">
      <h2>pgAudit scope in force</h2>
      {configs.length === 0
        ? <p class="warn">No WAL source has read back a database's configuration yet.</p>
        : configs.map((view) => (
          <section data-source={view.source}>
            <h3>
              <Text value={view.source} /> — database <Text value={view.db} />
            </h3>
            <PgauditScopeTable view={view} />
          </section>
        ))}
    </div>
  );
}
