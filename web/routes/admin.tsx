/**
 * Administration (admin only): users, API tokens, the signing key and the configuration. Each
 * change is recorded in the chain (USER_ADD, USER_DISABLE, USER_ENABLE, USER_ROLE, USER_PASSWORD_RESET,
 * TOKEN_CREATE, TOKEN_REVOKE, SOURCE_* / EXPORT_TARGET_* / RETENTION_SET from ./admin_config.ts,
 * KEY_ROTATE from ./admin_keys.ts) before it is made; a refused change is recorded as refused,
 * with why in the event's `error`, and never as done. The public key downloads are open to every
 * signed-in role: auditors need them to check exports.
 */

import { Hono } from "hono";
import { publicKeyPem, readPublicKey } from "../../daemon/store/keys.ts";
import { storePaths } from "../../daemon/store/store_open.ts";
import { recordUiAction } from "../audit_trail.ts";
import { csrfCheck } from "../auth/csrf.ts";
import { requireRole } from "../auth/session.ts";
import type { WebDeps } from "../deps.ts";
import type { WebContext, WebEnv } from "../env.ts";
import { AdminPage } from "../views/admin.tsx";
import { latestConfigurations } from "../configuration.ts";
import { adminConfigRoutes, type ConfigExtra } from "./admin_config.ts";
import { adminKeyRoutes } from "./admin_keys.ts";
import { keyHistory } from "../../daemon/store/key_handover.ts";
import { configPlace, readConfigState } from "./admin_config_state.ts";
import { configuredSourceNames } from "../token_events.ts";

/** Messages after a change, by code: a link cannot make the page say arbitrary things. */
const DONE: Record<string, string> = {
  "user-added": "User added.",
  "user-disabled": "User disabled; their sessions ended.",
  "user-enabled": "User enabled.",
  "password-reset": "Password reset; the user's sessions ended.",
  "token-revoked": "Token revoked.",
  "role-changed": "Role changed; it applies from the user's next request.",
  "source-saved": "Source saved; the daemon reloaded its sources.",
  "source-deleted": "Source deleted; the daemon reloaded its sources.",
  "export-saved": "Export target saved. Export targets apply from the next restart.",
  "export-deleted": "Export target deleted. Export targets apply from the next restart.",
  "source-saved-unreloaded": "Source saved, but the reload was refused: see the daemon log.",
  "source-deleted-unreloaded": "Source deleted, but the reload was refused: see the daemon log.",
  "export-saved-unreloaded": "Export target saved, but the reload was refused: see the daemon log.",
  "key-rotated": "Signing key rotated: the new key signs from now on. The rotation is in the " +
    "chain under a checkpoint of the old key, so holders of the old public key can follow it.",
  "export-deleted-unreloaded":
    "Export target deleted, but the reload was refused: see the daemon log.",
  "retention-saved": "Local retention saved; the daemon reloaded it.",
  "retention-cleared": "Local retention cleared: local segments are kept forever.",
  "retention-saved-unreloaded":
    "Local retention saved, but the reload was refused: see the daemon log.",
  "retention-cleared-unreloaded":
    "Local retention cleared, but the reload was refused: see the daemon log.",
};

type Extra = ConfigExtra & { error?: string; newToken?: { name: string; token: string } };

/** Routes under /admin, and /keys. */
export function adminRoutes(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  const place = configPlace(deps.config);
  const page = async (
    c: WebContext,
    status: 200 | 400 | 404,
    extra: Extra = {},
  ): Promise<Response> =>
    c.html(
      <AdminPage
        user={c.get("user")!}
        csrf={c.get("session")!.csrf}
        users={deps.access.users.list()}
        sessions={deps.access.sessions.countByUser()}
        tokens={deps.access.tokens.list()}
        keyId={deps.store.keyId}
        keyHistory={await keyHistory(storePaths(deps.store.dataDir).keys, deps.store.keyId)}
        config={deps.config}
        managed={place === null ? null : await readConfigState(place)}
        message={DONE[c.req.query("done") ?? ""]}
        configuration={await latestConfigurations(deps)}
        {...extra}
      />,
      status,
    );

  /**
   * Runs an admin change. `check` throws a TypeError saying why the change would be refused: a
   * refusal is recorded as refused, with why, and shown as 400. An accepted change is recorded
   * before it is made; one that fails all the same is recorded again, with its error.
   * `apply` may answer itself (a new token is shown once); otherwise the page says `done`.
   */
  const change = async (
    c: WebContext,
    record: { command: string; object: string; context?: Record<string, string | string[]> },
    steps: {
      check: () => void | Promise<void>;
      apply: () => void | Response | Promise<void | Response>;
    },
    done: string,
  ): Promise<Response> => {
    try {
      await steps.check();
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      await recordUiAction(deps, c, { ...record, error: `refused: ${e.message}` });
      return page(c, 400, { error: e.message });
    }
    await recordUiAction(deps, c, record);
    let answer: void | Response;
    try {
      answer = await steps.apply();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      await recordUiAction(deps, c, { ...record, error: `not done: ${why}` });
      if (e instanceof TypeError) return page(c, 400, { error: e.message });
      throw e;
    }
    return answer ?? c.redirect(`/admin?done=${done}`, 303);
  };

  /** Every configured source name: running, in the config file, and in managed.toml. */
  const sourceNames = async (): Promise<Set<string>> => {
    const names = configuredSourceNames(deps);
    if (place !== null) {
      const state = await readConfigState(place);
      for (const t of [...state.fileSources, ...state.managed.sources]) {
        names.add(String((t as { name?: unknown }).name ?? ""));
      }
    }
    return names;
  };

  const field = async (c: WebContext, name: string): Promise<string> => {
    const v = (await c.req.parseBody())[name];
    return typeof v === "string" ? v : "";
  };

  app.get("/keys/signing.pub.pem", requireRole("admin", "auditor", "operator"), async (c) => {
    const pem = publicKeyPem(await readPublicKey(storePaths(deps.store.dataDir).keys));
    c.header("Content-Type", "application/x-pem-file");
    c.header("Content-Disposition", 'attachment; filename="vigil-signing.pub.pem"');
    return c.body(pem);
  });

  app.use("/admin/*", requireRole("admin"), csrfCheck({ tls: deps.tls }));
  app.get("/admin", requireRole("admin"), (c) => page(c, 200));
  app.route("/", adminConfigRoutes(deps, page));
  app.route("/", adminKeyRoutes(deps, page));

  app.post("/admin/users", async (c) => {
    const name = (await field(c, "name")).trim();
    const role = await field(c, "role");
    const password = await field(c, "password");
    return change(c, { command: "USER_ADD", object: `user ${name.slice(0, 64)}` }, {
      check: () => deps.access.users.checkAdd(name, role, password),
      apply: async () => void await deps.access.users.add(name, role, password),
    }, "user-added");
  });

  app.post("/admin/users/:name/:action{disable|enable}", (c) => {
    const name = c.req.param("name");
    const disable = c.req.param("action") === "disable";
    return change(
      c,
      { command: disable ? "USER_DISABLE" : "USER_ENABLE", object: `user ${name.slice(0, 64)}` },
      {
        check: () => deps.access.users.checkChange(name, { disable, by: c.get("user")!.name }),
        apply: () => deps.access.users.setDisabled(name, disable),
      },
      disable ? "user-disabled" : "user-enabled",
    );
  });

  app.post("/admin/users/:name/role", async (c) => {
    const name = c.req.param("name");
    const role = await field(c, "role");
    return change(
      c,
      {
        command: "USER_ROLE",
        object: `user ${name.slice(0, 64)}`,
        context: { role: role.slice(0, 64) },
      },
      {
        check: () => deps.access.users.checkChange(name, { role }),
        apply: () => deps.access.users.setRole(name, role),
      },
      "role-changed",
    );
  });

  app.post("/admin/users/:name/password", async (c) => {
    const name = c.req.param("name");
    const password = await field(c, "password");
    return change(c, { command: "USER_PASSWORD_RESET", object: `user ${name.slice(0, 64)}` }, {
      check: () => deps.access.users.checkChange(name, { password }),
      apply: async () => {
        await deps.access.users.setPassword(name, password);
        deps.access.throttle.clearUser(name);
      },
    }, "password-reset");
  });

  app.post("/admin/tokens", async (c) => {
    const body = await c.req.parseBody({ all: true });
    const name = typeof body.name === "string" ? body.name.trim() : "";
    const raw = body.scope;
    const scopes = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
      .filter((s): s is string => typeof s === "string");
    const sources = await sourceNames();
    return change(c, {
      command: "TOKEN_CREATE",
      object: `token ${name.slice(0, 64)}`,
      context: { scopes: scopes.slice(0, 8).map((s) => s.slice(0, 32)) },
    }, {
      check: () => deps.access.tokens.checkCreate(name, scopes, sources),
      apply: () => {
        const { token, info } = deps.access.tokens.create(name, scopes, c.get("user")!.name, {
          sources,
        });
        // Shown in this response only; a redirect would have to carry it in a URL.
        return page(c, 200, { newToken: { name: info.name, token } });
      },
    }, "token-created");
  });

  app.post("/admin/tokens/:name/revoke", (c) => {
    const name = c.req.param("name");
    return change(c, { command: "TOKEN_REVOKE", object: `token ${name.slice(0, 64)}` }, {
      check: () => deps.access.tokens.checkRevoke(name),
      apply: () => deps.access.tokens.revoke(name, c.get("user")!.name),
    }, "token-revoked");
  });

  return app;
}
