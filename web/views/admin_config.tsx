/**
 * Sources and export targets on the Administration page: the config file's entries read-only,
 * `managed.toml`'s editable, a form to add each kind (a source's from its plugin's field list,
 * whatever its type), and a "Test connection" per source; then
 * local retention (./admin_retention.tsx). Secret
 * fields are always empty: what was typed into one is written to a file and never shown again,
 * not even when the form comes back with an error. Values are text, and DSNs are masked.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { NamedTable } from "../../daemon/config/config.ts";
import { type ConfigExtra, RETENTION_FORM } from "../routes/admin_config.ts";
import {
  EXPORT_TYPES,
  formFieldsOf,
  formPlugin,
  SECRET_FIELDS,
  SOURCE_TYPES,
} from "../routes/admin_config_form.ts";
import type { SourcePlugin } from "../../daemon/source.ts";
import type { ConfigState } from "../routes/admin_config_state.ts";
import { LocalRetention } from "./admin_retention.tsx";
import { maskDsn } from "./config.tsx";
import { Csrf } from "./layout.tsx";
import { Text } from "./text.tsx";

type Values = Readonly<Record<string, unknown>>;
type Kind = "sources" | "exports";

/** One text input, filled from `v` (never for secret fields; a masked URL without password). */
function Field(
  p: {
    name: string;
    label: string;
    v: Values;
    required?: boolean;
    hint?: string | undefined;
    masked?: boolean | undefined;
  },
): JSX.Element {
  const secret = SECRET_FIELDS.has(p.name);
  const raw = secret ? "" : p.v[p.name];
  const value = typeof raw === "string" ? (p.masked ? maskDsn(raw) : raw) : raw;
  return (
    <label>
      {p.label}
      {p.hint ? <span class="muted">{` (${p.hint})`}</span> : null}
      <input
        name={p.name}
        type={secret ? "password" : "text"}
        autocomplete={secret ? "new-password" : "off"}
        value={value === undefined || value === null ? "" : String(value)}
        required={p.required === true}
      />
    </label>
  );
}

/** The fields of one kind of entry. */
function Fields(
  { kind, type, v, edit }: { kind: Kind; type: string; v: Values; edit: boolean },
): JSX.Element {
  const keep = edit ? "leave empty to keep" : "optional";
  const plugin = kind === "sources" ? formPlugin(type) : undefined;
  if (plugin !== undefined) return <SourceFields plugin={plugin} v={v} keep={keep} />;
  switch (type) {
    case "dir":
      return (
        <>
          <Field name="path" label="path" v={v} required />
          <Field name="interval" label="interval" v={v} hint="default 15m" />
        </>
      );
    default: // s3
      return (
        <>
          <Field name="endpoint" label="endpoint" v={v} required hint="https://host:port" />
          <Field name="bucket" label="bucket" v={v} required />
          <Field name="prefix" label="prefix" v={v} />
          <Field name="region" label="region" v={v} hint="default us-east-1" />
          <Field name="interval" label="interval" v={v} hint="default 15m" />
          <Field name="access_key" label="access key" v={v} hint={`${keep}; 0600 file`} />
          <Field name="secret_key" label="secret key" v={v} hint={`${keep}; 0600 file`} />
          <label>
            object_lock
            <input
              type="checkbox"
              name="object_lock"
              checked={v.object_lock === true || v.object_lock === "on"}
            />
          </label>
          <Field name="retain_days" label="retain_days" v={v} hint="with object_lock" />
        </>
      );
  }
}

/** The options of a select, `selected` chosen. (A loop: Hono would print a `key` as markup.) */
function Options(p: { values: readonly string[]; selected: unknown }): JSX.Element {
  const out: JSX.Element[] = [];
  for (const o of p.values) out.push(<option value={o} selected={p.selected === o}>{o}</option>);
  return <>{out}</>;
}

/** A source's fields, from its plugin's field list: any type, no branch on its name. */
function SourceFields(p: { plugin: SourcePlugin; v: Values; keep: string }): JSX.Element {
  return (
    <>
      {formFieldsOf(p.plugin).map((f) => (
        <>
          {f.form.secret === undefined ? null : (
            <Field
              name={f.form.secret.field}
              label={f.form.secret.field}
              v={p.v}
              hint={`${p.keep}; ${f.form.secret.hint}`}
            />
          )}
          {f.values === undefined
            ? (
              <Field
                name={f.key}
                label={f.key}
                v={p.v}
                required={f.required === true}
                hint={f.form.hint}
                masked={f.form.masked}
              />
            )
            : (
              <label>
                {f.key}
                <select name={f.key}>
                  <Options values={f.values} selected={p.v[f.key]} />
                </select>
              </label>
            )}
        </>
      ))}
    </>
  );
}

/** One add or edit form; a refused submission comes back into it with its message. */
function EntryForm(p: {
  kind: Kind;
  id: string;
  action: string;
  csrf: string;
  type: string;
  values: Values;
  edit: boolean;
  error: ConfigExtra["configError"];
  submit: string;
}): JSX.Element {
  const mine = p.error?.form === p.id ? p.error : undefined;
  const v: Values = mine === undefined
    ? p.values
    : { ...mine.fields, object_lock: mine.fields.object_lock };
  return (
    <form method="post" action={p.action} class="stack" id={p.id}>
      <Csrf token={p.csrf} />
      {mine ? <p class="notice bad" role="alert">{mine.message}</p> : null}
      {p.edit ? null : (
        <>
          <input type="hidden" name="type" value={p.type} />
          <Field name="name" label="name" v={v} required />
        </>
      )}
      <Fields kind={p.kind} type={p.type} v={v} edit={p.edit} />
      <button type="submit">{p.submit}</button>
    </form>
  );
}

/** What a row shows of an entry: a source's form fields (masked ones masked), a target's keys. */
function summary(kind: Kind, t: Values): string {
  const plugin = kind === "sources" ? formPlugin(String(t.type)) : undefined;
  const fields = plugin === undefined
    ? EXPORT_SUMMARY.map((key) => ({ key, masked: false }))
    : formFieldsOf(plugin).map((f) => ({ key: f.key, masked: f.form.masked === true }));
  return fields.filter((f) => typeof t[f.key] === "string" && !SECRET_FIELDS.has(f.key))
    .map((f) => `${f.key}=${f.masked ? maskDsn(String(t[f.key])) : String(t[f.key])}`)
    .join("  ");
}

const EXPORT_SUMMARY = ["path", "endpoint", "bucket", "interval"];

/** One kind's table and forms. */
function Section(p: {
  kind: "sources" | "exports";
  fileEntries: readonly NamedTable[];
  managed: readonly Record<string, unknown>[];
  csrf: string;
  extra: ConfigExtra;
}): JSX.Element {
  const single = p.kind === "sources" ? "source" : "export";
  const types = p.kind === "sources" ? SOURCE_TYPES : EXPORT_TYPES;
  const probe = p.extra.probe;
  const row = (t: Values, fromFile: boolean): JSX.Element => {
    const name = String(t.name);
    const enc = encodeURIComponent(name);
    return (
      <tr data-entry={name} data-origin={fromFile ? "file" : "managed"}>
        <td>{name}</td>
        <td>{String(t.type)}</td>
        <td>
          <Text value={summary(p.kind, t)} />
        </td>
        <td>{fromFile ? <span class="muted">from vigil.toml</span> : "managed in the UI"}</td>
        <td>
          {p.kind === "sources"
            ? (
              <form class="inline" method="post" action={`/admin/sources/${enc}/test`}>
                <Csrf token={p.csrf} />
                <button type="submit" class="secondary">Test connection</button>
              </form>
            )
            : null}
          {fromFile ? null : (
            <>
              {" "}
              <form class="inline" method="post" action={`/admin/${p.kind}/${enc}/delete`}>
                <Csrf token={p.csrf} />
                <button type="submit" class="danger">Delete</button>
              </form>
              <details open={p.extra.configError?.form === `edit-${single}-${name}`}>
                <summary>Edit</summary>
                <EntryForm
                  kind={p.kind}
                  id={`edit-${single}-${name}`}
                  action={`/admin/${p.kind}/${enc}`}
                  csrf={p.csrf}
                  type={String(t.type)}
                  values={t}
                  edit
                  error={p.extra.configError}
                  submit="Save"
                />
              </details>
            </>
          )}
          {probe !== undefined && probe.name === name
            ? (
              <div class={`notice ${probe.ok ? "" : "bad"}`} id="probe" role="status">
                <p>{probe.ok ? "Connection test passed." : "Connection test failed."}</p>
                <ul>
                  {probe.lines.map((l) => (
                    <li>
                      <Text value={l} />
                    </li>
                  ))}
                </ul>
              </div>
            )
            : null}
        </td>
      </tr>
    );
  };
  return (
    <>
      <table id={p.kind}>
        <thead>
          <tr>
            <th>name</th>
            <th>type</th>
            <th>settings</th>
            <th>origin</th>
            <th>actions</th>
          </tr>
        </thead>
        <tbody>
          {p.fileEntries.map((e) => row(e.table, true))}
          {p.managed.map((t) => row(t, false))}
        </tbody>
      </table>
      {types.map((type) => (
        <details open={p.extra.configError?.form === `add-${single}-${type}`}>
          <summary>Add a {type} {p.kind === "sources" ? "source" : "export target"}</summary>
          <EntryForm
            kind={p.kind}
            id={`add-${single}-${type}`}
            action={`/admin/${p.kind}`}
            csrf={p.csrf}
            type={type}
            values={{}}
            edit={false}
            error={p.extra.configError}
            submit="Add"
          />
        </details>
      ))}
    </>
  );
}

/** The ids of the forms the sections render, so that an error for no form shows on top. */
function formIds(state: ConfigState): Set<string> {
  return new Set([
    ...SOURCE_TYPES.map((t) => `add-source-${t}`),
    ...EXPORT_TYPES.map((t) => `add-export-${t}`),
    RETENTION_FORM,
    ...state.managed.sources.map((t) => `edit-source-${String(t.name)}`),
    ...state.managed.exports.map((t) => `edit-export-${String(t.name)}`),
  ]);
}

/** Both sections, or why they cannot be shown. */
export const ManagedConfig = (
  p: { state: ConfigState; csrf: string; extra: ConfigExtra },
): JSX.Element => (
  <div id="managed-config">
    {p.state.error ? <p class="notice bad" role="alert">{p.state.error}</p> : null}
    {p.extra.configError && !formIds(p.state).has(p.extra.configError.form)
      ? <p class="notice bad" role="alert">{p.extra.configError.message}</p>
      : null}
    {p.extra.probe !== undefined &&
        ![...p.state.fileSources.map((s) => s.name), ...p.state.managed.sources.map((t) => t.name)]
          .includes(p.extra.probe.name)
      ? (
        <p class="notice bad" role="alert">
          No source is named <Text value={p.extra.probe.name} />.
        </p>
      )
      : null}
    <h2>Sources</h2>
    <p class="muted">
      Entries from the config file are changed there. The others live in <code>managed.toml</code>
      {" "}
      in the data directory; a change is checked with the whole configuration, recorded in the
      chain, and the daemon reloads its sources.
    </p>
    <Section
      kind="sources"
      fileEntries={p.state.fileSources}
      managed={p.state.managed.sources}
      csrf={p.csrf}
      extra={p.extra}
    />
    <h2>Export targets</h2>
    <p class="muted">Export target changes apply from the daemon's next restart.</p>
    <Section
      kind="exports"
      fileEntries={p.state.fileExports}
      managed={p.state.managed.exports}
      csrf={p.csrf}
      extra={p.extra}
    />
    <LocalRetention state={p.state} csrf={p.csrf} extra={p.extra} />
  </div>
);
