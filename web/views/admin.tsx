/**
 * The Administration page: users and roles, API tokens (a new token's text shown once), the
 * signing key, sources, export targets and local retention (./admin_config.tsx), and the rest
 * of the configuration read-only.
 */

import type { ConfigView } from "../configuration.ts";
import { PgauditScopes } from "./configuration.tsx";
import type { JSX } from "hono/jsx/jsx-runtime";
import { type ApiToken, MIN_PASSWORD_LENGTH, ROLES, type User } from "../../daemon/access/mod.ts";
import { TOKEN_SCOPES } from "../../daemon/access/mod.ts";
import type { ConfigExtra } from "../routes/admin_config.ts";
import type { ConfigState } from "../routes/admin_config_state.ts";
import type { KeyHistoryEntry } from "../../daemon/store/key_handover.ts";
import { ManagedConfig } from "./admin_config.tsx";
import { SigningKeys } from "./admin_keys.tsx";
import { ConfigValue } from "./config.tsx";
import { wallTime } from "./format.ts";
import { Csrf, Layout } from "./layout.tsx";
import { Text } from "./text.tsx";

function roleOption(r: string, current?: string): JSX.Element {
  return <option value={r} selected={r === current}>{r}</option>;
}

/** The page. */
export const AdminPage = (p: {
  user: User;
  csrf: string;
  users: readonly User[];
  sessions: Map<number, number>;
  tokens: readonly ApiToken[];
  keyId: string;
  /** Every key that signed the log, oldest first. */
  keyHistory: readonly KeyHistoryEntry[];
  config: unknown;
  /** Sources and export targets by origin; null without a config file. */
  managed?: ConfigState | null | undefined;
  configError?: ConfigExtra["configError"];
  probe?: ConfigExtra["probe"];
  message?: string | undefined;
  error?: string | undefined;
  newToken?: { name: string; token: string } | undefined;
  /** The latest configuration reading of each WAL source, for the pgAudit scope in force. */
  configuration?: ConfigView[] | null | undefined;
}): JSX.Element => (
  <Layout title="Administration" user={p.user} csrf={p.csrf} active="/admin">
    {p.message ? <p class="notice" role="status">{p.message}</p> : null}
    {p.error ? <p class="notice bad" role="alert">{p.error}</p> : null}
    {p.newToken
      ? (
        <div class="notice secret" id="new-token">
          <p>
            Token <strong>{p.newToken.name}</strong>{" "}
            created. Copy it now: it is shown this once and stored only as a hash.
          </p>
          <p>
            <code>{p.newToken.token}</code>
          </p>
        </div>
      )
      : null}
    <h2>Users</h2>
    <table id="users">
      <thead>
        <tr>
          <th>name</th>
          <th>role</th>
          <th>status</th>
          <th>last sign-in</th>
          <th class="num">sessions</th>
          <th>actions</th>
        </tr>
      </thead>
      <tbody>
        {p.users.map((u) => (
          <tr data-user={u.name}>
            <td>{u.name}</td>
            <td>
              <form
                class="inline"
                method="post"
                action={`/admin/users/${encodeURIComponent(u.name)}/role`}
              >
                <Csrf token={p.csrf} />
                <select name="role" aria-label={`role of ${u.name}`}>
                  {ROLES.map((r) => roleOption(r, u.role))}
                </select>{" "}
                <button type="submit" class="secondary">Set</button>
              </form>
            </td>
            <td class={u.disabled ? "bad" : "ok"}>{u.disabled ? "disabled" : "active"}</td>
            <td>{u.lastLoginAt === null ? "never" : wallTime(u.lastLoginAt)}</td>
            <td class="num">{p.sessions.get(u.id) ?? 0}</td>
            <td>
              <form
                class="inline"
                method="post"
                action={`/admin/users/${encodeURIComponent(u.name)}/${
                  u.disabled ? "enable" : "disable"
                }`}
              >
                <Csrf token={p.csrf} />
                <button type="submit" class={u.disabled ? "secondary" : "danger"}>
                  {u.disabled ? "Enable" : "Disable"}
                </button>
              </form>{" "}
              <form
                class="inline"
                method="post"
                action={`/admin/users/${encodeURIComponent(u.name)}/password`}
              >
                <Csrf token={p.csrf} />
                <input
                  type="password"
                  name="password"
                  placeholder="new password"
                  autocomplete="new-password"
                  minlength={MIN_PASSWORD_LENGTH}
                  required
                />
                <button type="submit" class="secondary">Reset password</button>
              </form>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    <form method="post" action="/admin/users" class="stack" id="add-user">
      <Csrf token={p.csrf} />
      <label>
        name
        <input name="name" required maxlength={64} />
      </label>
      <label>
        role
        <select name="role">
          {ROLES.map((r) => roleOption(r))}
        </select>
      </label>
      <label>
        password (at least {MIN_PASSWORD_LENGTH} characters)
        <input
          name="password"
          type="password"
          autocomplete="new-password"
          minlength={MIN_PASSWORD_LENGTH}
          required
        />
      </label>
      <button type="submit">Add user</button>
    </form>
    <h2>API tokens</h2>
    <p class="muted">
      Applications post events with <code>Authorization: Bearer TOKEN</code> to{" "}
      <code>/api/v1/events</code>; the token's name becomes the events' source.
    </p>
    <table id="tokens">
      <thead>
        <tr>
          <th>name</th>
          <th>token starts</th>
          <th>scopes</th>
          <th>created</th>
          <th>last used</th>
          <th>status</th>
        </tr>
      </thead>
      <tbody>
        {p.tokens.map((t) => (
          <tr data-token={t.name}>
            <td>{t.name}</td>
            <td>
              <code>{t.prefix}…</code>
            </td>
            <td>{t.scopes.join(", ")}</td>
            <td>
              {wallTime(t.createdAt)} by <Text value={t.createdBy} />
            </td>
            <td>{t.lastUsedAt === null ? "never" : wallTime(t.lastUsedAt)}</td>
            <td>
              {t.revokedAt !== null
                ? (
                  <span class="bad">
                    revoked {wallTime(t.revokedAt)} by <Text value={t.revokedBy} />
                  </span>
                )
                : (
                  <form
                    class="inline"
                    method="post"
                    action={`/admin/tokens/${encodeURIComponent(t.name)}/revoke`}
                  >
                    <Csrf token={p.csrf} />
                    <button type="submit" class="danger">Revoke</button>
                  </form>
                )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    <form method="post" action="/admin/tokens" class="stack" id="add-token">
      <Csrf token={p.csrf} />
      <label>
        name (becomes the source)
        <input name="name" required maxlength={64} />
      </label>
      {TOKEN_SCOPES.map((s) => (
        <label>
          {s}
          <input type="checkbox" name="scope" value={s} checked={s === "ingest"} />
        </label>
      ))}
      <button type="submit">Create token</button>
    </form>
    <SigningKeys keyId={p.keyId} history={p.keyHistory} csrf={p.csrf} />
    {p.managed
      ? (
        <ManagedConfig
          state={p.managed}
          csrf={p.csrf}
          extra={{
            ...(p.configError ? { configError: p.configError } : {}),
            ...(p.probe ? { probe: p.probe } : {}),
          }}
        />
      )
      : null}
    <h2>Configuration</h2>
    {p.config === undefined || p.config === null
      ? <p class="muted">No configuration was passed to the web UI.</p>
      : (
        <div id="config">
          <p class="muted">
            As the daemon started, read-only. Everything outside the sources, export targets and
            local retention above is changed in the configuration file; reload with SIGHUP.
          </p>
          <ConfigValue value={p.config} />
        </div>
      )}
    {p.configuration === undefined || p.configuration === null
      ? null
      : <PgauditScopes configs={p.configuration} />}
  </Layout>
);
