/**
 * Administration (admin only): users, API tokens, the signing key and the configuration. Each
 * change is recorded in the chain (USER_ADD, USER_DISABLE, USER_ENABLE, USER_ROLE, USER_PASSWORD_RESET,
 * TOKEN_CREATE, TOKEN_REVOKE, SOURCE_* / EXPORT_TARGET_* / RETENTION_SET from ./admin_config.ts,
 * KEY_ROTATE from ./admin_keys.ts) before it is made. The public key downloads are open to every
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
import { adminConfigRoutes, type ConfigExtra } from "./admin_config.ts";
import { adminKeyRoutes } from "./admin_keys.ts";
import { keyHistory } from "../../daemon/store/key_handover.ts";
import { configPlace, readConfigState } from "./admin_config_state.ts";

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
        {...extra}
      />,
      status,
    );

  /** Runs a change; a TypeError from the access store is the user's mistake, shown as 400. */
  const change = async (
    c: WebContext,
    record: { command: string; object: string; context?: Record<string, string> },
    fn: () => void | Promise<void>,
    done: string,
  ): Promise<Response> => {
    try {
      await recordUiAction(deps, c, record);
      await fn();
    } catch (e) {
      if (e instanceof TypeError) return page(c, 400, { error: e.message });
      throw e;
    }
    return c.redirect(`/admin?done=${done}`, 303);
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
    return change(c, { command: "USER_ADD", object: `user ${name.slice(0, 64)}` }, async () => {
      await deps.access.users.add(name, role, password);
    }, "user-added");
  });

  app.post("/admin/users/:name/:action{disable|enable}", (c) => {
    const name = c.req.param("name");
    const disable = c.req.param("action") === "disable";
    if (disable && name === c.get("user")!.name) {
      return page(c, 400, { error: "You cannot disable yourself." });
    }
    const target = deps.access.users.get(name);
    if (disable && target?.role === "admin" && deps.access.users.enabledAdmins() <= 1) {
      return page(c, 400, { error: "The last active admin cannot be disabled." });
    }
    return change(
      c,
      { command: disable ? "USER_DISABLE" : "USER_ENABLE", object: `user ${name}` },
      () => deps.access.users.setDisabled(name, disable),
      disable ? "user-disabled" : "user-enabled",
    );
  });

  app.post("/admin/users/:name/role", async (c) => {
    const name = c.req.param("name");
    const role = await field(c, "role");
    const target = deps.access.users.get(name);
    if (
      target?.role === "admin" && role !== "admin" && !target.disabled &&
      deps.access.users.enabledAdmins() <= 1
    ) {
      return page(c, 400, { error: "The last active admin cannot be given another role." });
    }
    return change(
      c,
      { command: "USER_ROLE", object: `user ${name}`, context: { role } },
      () => deps.access.users.setRole(name, role),
      "role-changed",
    );
  });

  app.post("/admin/users/:name/password", async (c) => {
    const name = c.req.param("name");
    const password = await field(c, "password");
    return change(c, { command: "USER_PASSWORD_RESET", object: `user ${name}` }, async () => {
      await deps.access.users.setPassword(name, password);
      deps.access.throttle.clearUser(name);
    }, "password-reset");
  });

  app.post("/admin/tokens", async (c) => {
    const body = await c.req.parseBody({ all: true });
    const name = typeof body.name === "string" ? body.name.trim() : "";
    const raw = body.scope;
    const scopes = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
      .filter((s): s is string => typeof s === "string");
    try {
      await recordUiAction(deps, c, {
        command: "TOKEN_CREATE",
        object: `token ${name.slice(0, 64)}`,
        context: { scopes },
      });
      const { token, info } = deps.access.tokens.create(name, scopes, c.get("user")!.name);
      // Shown in this response only; a redirect would have to carry it in a URL.
      return page(c, 200, { newToken: { name: info.name, token } });
    } catch (e) {
      if (e instanceof TypeError) return page(c, 400, { error: e.message });
      throw e;
    }
  });

  app.post("/admin/tokens/:name/revoke", (c) => {
    const name = c.req.param("name");
    return change(
      c,
      { command: "TOKEN_REVOKE", object: `token ${name}` },
      () => deps.access.tokens.revoke(name, c.get("user")!.name),
      "token-revoked",
    );
  });

  return app;
}
