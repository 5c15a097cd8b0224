/**
 * Management (auditor, admin): compliance status, verification on demand, coverage and gaps,
 * exports, bundle downloads and the evidence pack. Viewing coverage, building a pack and
 * downloading a bundle read audit data and are recorded (VIEW_COMPLIANCE, EXPORT); a
 * verification is recorded when asked for (VERIFY_START, durable before the answer) and with its
 * result once it has run (VERIFY), by the user who asked, whether or not the browser still waits.
 */

import { Hono } from "hono";
import { formatRfc3339Micros } from "../../daemon/event/time.ts";
import { recordAs, recordUiAction, uiActor } from "../audit_trail.ts";
import { csrfCheck } from "../auth/csrf.ts";
import { downloadBundle } from "../bundle_download.ts";
import { requireRole } from "../auth/session.ts";
import { coverage, gapEvents, Verifier } from "../compliance.ts";
import type { WebDeps } from "../deps.ts";
import type { WebContext, WebEnv } from "../env.ts";
import { buildEvidence } from "../evidence.ts";
import { latestConfigurations } from "../configuration.ts";
import { latestCheckpoint } from "../proof.ts";
import { parseTimeParam, SearchParamError } from "../search.ts";
import { EvidencePage } from "../views/evidence.tsx";
import { ManagementPage } from "../views/management.tsx";

const DAY_US = 86_400_000_000;

/** The period of the request: `from`/`to`, by default the last seven days. */
function period(c: WebContext, nowMs: number): { from: number; to: number } {
  const to = c.req.query("to")?.trim();
  const from = c.req.query("from")?.trim();
  const toUs = to ? parseTimeParam("to", to) : nowMs * 1000 + 1;
  const fromUs = from ? parseTimeParam("from", from) : toUs - 7 * DAY_US;
  if (fromUs >= toUs) throw new SearchParamError("from: must be before to");
  return { from: fromUs, to: toUs };
}

/** Routes under /management. */
export function managementRoutes(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const now = deps.now ?? Date.now;
  const verifier = new Verifier(deps);
  app.use("*", requireRole("admin", "auditor"));

  app.get("/", async (c) => {
    let p: { from: number; to: number };
    try {
      p = period(c, now());
    } catch (e) {
      if (!(e instanceof SearchParamError)) throw e;
      return c.text(`Bad period: ${e.message}`, 400);
    }
    const upTo = deps.store.size;
    await recordUiAction(deps, c, {
      command: "VIEW_COMPLIANCE",
      context: { from: p.from, to: p.to },
    });
    const [checkpoint, gaps, sources, configs] = await Promise.all([
      latestCheckpoint(deps.store.dataDir),
      gapEvents(deps, p, upTo),
      coverage(deps, p, upTo),
      latestConfigurations(deps, { upTo }),
    ]);
    return c.html(
      <ManagementPage
        user={c.get("user")!}
        csrf={c.get("session")!.csrf}
        lastRun={deps.access.verifyRuns.latest()}
        running={verifier.running}
        checkpoint={checkpoint}
        storeSize={deps.store.size}
        period={{ from: formatRfc3339Micros(p.from), to: formatRfc3339Micros(p.to) }}
        coverage={sources}
        configuration={configs}
        gaps={gaps}
        exports={deps.exports ? deps.exports.status().targets : null}
        integrity={deps.status.current().store.integrity}
      />,
    );
  });

  app.post("/verify", csrfCheck({ tls: deps.tls }), async (c) => {
    // Captured now: the run outlives the request (a large store takes a while, and the page
    // polls for it), and its result is recorded once the request is long closed.
    const who = uiActor(c);
    const running = verifier.running;
    await recordUiAction(deps, c, {
      command: "VERIFY_START",
      object: "store",
      ...(running === null ? {} : { context: { joined_run_of: running.by } }),
    });
    verifier.start(who.name, (run) =>
      recordAs(deps, who, {
        command: "VERIFY",
        object: "store",
        context: { ok: run.ok, events: run.events, checkpoints: run.checkpoints },
        ...(run.problem === null ? {} : { error: run.problem }),
      })).catch(() => {/* recorded by the verifier */});
    return c.redirect("/management", 303);
  });

  const evidence = async (c: WebContext, format: "html" | "json"): Promise<Response> => {
    let p: { from: number; to: number };
    try {
      p = period(c, now());
    } catch (e) {
      if (!(e instanceof SearchParamError)) throw e;
      return c.text(`Bad period: ${e.message}`, 400);
    }
    const by = c.get("user")!.name;
    const upTo = deps.store.size;
    await recordUiAction(deps, c, {
      command: "EXPORT",
      object: "evidence pack",
      context: { from: p.from, to: p.to, format },
    });
    const pack = await buildEvidence(deps, p, { by, upTo });
    if (format === "json") {
      c.header("Content-Disposition", 'attachment; filename="vigil-evidence.json"');
      return c.json(pack);
    }
    const q = new URLSearchParams({ from: pack.period.from, to: pack.period.to }).toString();
    return c.html(
      <EvidencePage user={c.get("user")!} csrf={c.get("session")!.csrf} pack={pack} query={q} />,
    );
  };
  app.post("/bundle", csrfCheck({ tls: deps.tls }), (c) => downloadBundle(deps, c));
  app.get("/evidence", (c) => evidence(c, "html"));
  app.get("/evidence.json", (c) => evidence(c, "json"));

  return app;
}
