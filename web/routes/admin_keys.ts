/**
 * Signing-key routes: each public key of the key history as PEM (every signed-in role: auditors
 * need them to check exports from before a rotation), and the rotation itself (admin, under the
 * /admin CSRF check). The rotation runs in the daemon's own open store — it holds the data
 * directory's lock — and is recorded twice: the UI's KEY_ROTATE action by the user, before it
 * is made, and the store's KEY_ROTATE system event that hands the old key over to the new one.
 * A refused or failed rotation is recorded with why, in the UI event's `error`.
 */

import { Hono } from "hono";
import { KEY_HISTORY_DIR, parsePublicKey, publicKeyPem } from "../../daemon/store/keys.ts";
import { storePaths } from "../../daemon/store/store_open.ts";
import { recordUiAction } from "../audit_trail.ts";
import { requireRole } from "../auth/session.ts";
import type { WebDeps } from "../deps.ts";
import type { WebContext, WebEnv } from "../env.ts";

/** Renders the Administration page with an error, status 400. */
export type KeyPage = (c: WebContext, status: 400, extra: { error: string }) => Promise<Response>;

/** Routes /keys/history/<key id>.pub.pem and POST /admin/keys/rotate. */
export function adminKeyRoutes(deps: WebDeps, page: KeyPage): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  app.get(
    "/keys/history/:file",
    requireRole("admin", "auditor", "operator"),
    async (c) => {
      const m = /^([0-9a-f]{16})\.pub\.pem$/.exec(c.req.param("file"));
      if (!m) return c.text("not a key file name", 404);
      const keyId = m[1]!;
      const path = `${storePaths(deps.store.dataDir).keys}/${KEY_HISTORY_DIR}/${keyId}.pub`;
      let pem: string;
      try {
        pem = publicKeyPem(parsePublicKey(await Deno.readTextFile(path)));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return c.text(`no key ${keyId}`, 404);
        throw e;
      }
      c.header("Content-Type", "application/x-pem-file");
      c.header("Content-Disposition", `attachment; filename="vigil-signing-${keyId}.pub.pem"`);
      return c.body(pem);
    },
  );

  app.post("/admin/keys/rotate", async (c) => {
    const body = await c.req.parseBody();
    const confirm = typeof body.confirm === "string" ? body.confirm.trim() : "";
    const reason = typeof body.reason === "string" ? body.reason.trim().slice(0, 200) : "";
    const old = deps.store.keyId;
    const record = {
      command: "KEY_ROTATE",
      object: `signing key ${old}`,
      ...(reason ? { context: { reason } } : {}),
    };
    if (confirm !== old) {
      await recordUiAction(deps, c, {
        ...record,
        error: "refused: the current key id was not typed to confirm the rotation",
      });
      return page(c, 400, {
        error: `Not rotated: type the current key id ${old} to confirm the rotation.`,
      });
    }
    const user = c.get("user")!.name;
    await recordUiAction(deps, c, record);
    try {
      await deps.store.rotateKey({ by: user, ...(reason ? { reason } : {}) });
    } catch (e) {
      // Recorded above as about to happen: the trail must also say that it did not.
      const why = e instanceof Error ? e.message : String(e);
      await recordUiAction(deps, c, { ...record, error: `not done: ${why}` });
      throw e;
    }
    return c.redirect("/admin?done=key-rotated", 303);
  });

  return app;
}
