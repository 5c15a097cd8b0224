/**
 * The two models, as detectors over closed windows. Each role is scored against its own rolling
 * baseline once it has one (`min_baseline` windows over `min_history_days`), before that against
 * the recent windows of its peer group (its `peer_groups` entry, else all roles). Models are
 * retrained every `retrain_every` new baseline windows, seeded from the configured seed, the role
 * and the training count — so a replay of the same events grows the same trees, and a snapshot
 * need only keep each model's training rows and count: loaded, it grows the same trees again.
 */

import type { AlertDraft, ReasonFeature } from "./alert.ts";
import { DbscanModel } from "./dbscan.ts";
import { type DetectContext, type Detector, windowDraft } from "./detector.ts";
import { IsolationForest } from "./isolation_forest.ts";
import { hashSeed, seededRandom } from "./prng.ts";
import type { RoleProfile } from "./profile.ts";
import { FEATURE_NAMES, type FeatureWindow } from "./window.ts";

/** Features kept on a log1p scale: reasons show them as counts again. */
const LOG_FEATURES = 11;
/** Smallest spread used to standardise a feature: a constant feature is not infinitely tight. */
const MIN_STD = 0.25;

/**
 * New windows after which a model is retrained: `retrain_every`, or a quarter of the rows it
 * was trained on if more — a mature baseline barely moves with a few more windows, and training
 * is the costly part of detection.
 */
function due(t: Trained, ctx: DetectContext): number {
  return Math.max(ctx.cfg.retrain_every, Math.floor(t.rows.length / 4));
}

/**
 * A model as trained: the rows and the fit number fix it (the seed comes from them), so a
 * snapshot keeps those and the model is grown again, identically, the first time it scores.
 */
interface Trained {
  /** The fit number of its key (1 for the first): with the key and seed, the randomness. */
  n: number;
  /** Rows the model was trained on; never changed after training. */
  rows: readonly number[][];
  /** Baseline size (windows seen) at training. */
  at: number;
  fit: Fitted | null;
}

interface Fitted {
  forest: IsolationForest;
  dbscan: DbscanModel;
  mean: number[];
  std: number[];
}

function stats(rows: readonly number[][]): { mean: number[]; std: number[] } {
  const dims = rows[0]!.length;
  const mean = new Array<number>(dims).fill(0);
  const std = new Array<number>(dims).fill(0);
  for (const r of rows) for (let d = 0; d < dims; d++) mean[d]! += r[d]! / rows.length;
  for (const r of rows) for (let d = 0; d < dims; d++) std[d]! += (r[d]! - mean[d]!) ** 2;
  for (let d = 0; d < dims; d++) std[d] = Math.max(MIN_STD, Math.sqrt(std[d]! / rows.length));
  return { mean, std };
}

function scale(v: readonly number[], t: { mean: number[]; std: number[] }): number[] {
  return v.map((x, d) => (x - t.mean[d]!) / t.std[d]!);
}

function shown(d: number, x: number): number {
  return d < LOG_FEATURES ? Math.expm1(x) : x;
}

/**
 * The features furthest *above* the baseline, as reason entries and words; null when none is a
 * standard deviation above. Every feature counts something risky (statements, objects, failures,
 * rarity), so a window that is unusual only for doing less than usual is not an alert.
 */
function explain(
  v: readonly number[],
  t: Fitted,
): { features: ReasonFeature[]; words: string } | null {
  const z = v.map((x, d) => ({ d, z: (x - t.mean[d]!) / t.std[d]! }));
  z.sort((a, b) => b.z - a.z || a.d - b.d);
  const features = z.slice(0, 3).filter((e) => e.z >= 1).map(({ d }) => ({
    name: FEATURE_NAMES[d]!,
    value: Math.round(shown(d, v[d]!) * 100) / 100,
    usual: Math.round(shown(d, t.mean[d]!) * 100) / 100,
  }));
  if (features.length === 0) return null;
  const words = features.map((f) => `${f.name} ${f.value} (usual ${f.usual})`).join(", ");
  return { features, words };
}

/** Grows the models of `t`, seeded by key, fit number and config: same rows, same trees. */
function fitted(key: string, t: Trained, ctx: DetectContext): Fitted {
  if (t.fit !== null) return t.fit;
  const random = seededRandom(hashSeed(`${key}#${t.n}`, ctx.cfg.seed));
  const recent = t.rows.slice(-ctx.cfg.if_subsample);
  const s = stats(t.rows);
  return t.fit = {
    forest: IsolationForest.fit(t.rows, {
      trees: ctx.cfg.if_trees,
      subsample: ctx.cfg.if_subsample,
      random,
    }),
    dbscan: new DbscanModel(recent.map((r) => scale(r, s)), ctx.cfg.dbscan_min_points),
    ...s,
  };
}

/** Both models over windows; one detector so that they share the trained state. */
export function windowModels(): Detector {
  const trained = new Map<string, Trained>();

  function train(key: string, rows: readonly number[][], at: number): Trained {
    // A copy: a role's baseline keeps rolling after training, the rows must not.
    return { n: (trained.get(key)?.n ?? 0) + 1, rows: [...rows], at, fit: null };
  }

  function modelFor(p: RoleProfile, ts: number, ctx: DetectContext): [string, Trained] | null {
    const own = p.baseline.length >= ctx.cfg.min_baseline &&
      p.historyDays(ts) >= ctx.cfg.min_history_days;
    if (own) {
      const key = `role:${p.role}`;
      let t = trained.get(key);
      if (!t || p.windows - t.at >= due(t, ctx)) {
        trained.set(key, t = train(key, p.baseline, p.windows));
      }
      return [key, t];
    }
    const group = Object.entries(ctx.cfg.peer_groups).find(([, roles]) => roles.includes(p.role));
    return (group && peerModel(`peers:${group[0]}`, group[1], ctx)) ??
      peerModel("peers", [...ctx.profiles.keys()], ctx);
  }

  /** The model of a peer group's recent windows; null while they are too few. */
  function peerModel(key: string, members: string[], ctx: DetectContext): [string, Trained] | null {
    const roles = members.filter((r) => r !== "" && ctx.profiles.has(r)).sort();
    let total = 0;
    for (const r of roles) total += ctx.profiles.get(r)!.windows;
    let t = trained.get(key);
    if (t && total - t.at < due(t, ctx)) return [key, t];
    // Each member's most recent windows, in role order: a fixed sample for a fixed log.
    const rows: number[][] = [];
    const per = Math.ceil(ctx.cfg.baseline_windows / Math.max(1, roles.length));
    for (const r of roles) rows.push(...ctx.profiles.get(r)!.baseline.slice(-per));
    if (rows.length < ctx.cfg.min_baseline) return null;
    trained.set(key, t = train(key, rows, total));
    return [key, t];
  }

  function draft(
    w: FeatureWindow,
    rule: string,
    score: number,
    lead: string,
    e: { features: ReasonFeature[]; words: string },
  ): AlertDraft {
    return windowDraft(w, {
      rule,
      severity: score >= 0.8 ? "high" : "medium",
      score: Math.round(score * 1000) / 1000,
      reason: `${lead}: ${e.words}`,
      features: e.features,
    });
  }

  return {
    name: "model",
    window(w, v, ctx) {
      const disabled = ctx.cfg.disabled;
      const m = modelFor(ctx.profile, w.start, ctx);
      if (!m) return [];
      const key = m[0];
      const t = fitted(key, m[1], ctx);
      const out: AlertDraft[] = [];
      const why = explain(v, t);
      if (why === null) return out;
      const peer = key.startsWith("peers")
        ? ` against its peer group${key === "peers" ? "" : ` ${key.slice(6)}`}`
        : "";
      if (!disabled.includes("model:isolation_forest")) {
        const s = t.forest.score(v);
        if (s >= ctx.cfg.if_threshold) {
          out.push(draft(
            w,
            "model:isolation_forest",
            s,
            `isolation score ${s.toFixed(3)}${peer} (threshold ${ctx.cfg.if_threshold})`,
            why,
          ));
        }
      }
      if (!disabled.includes("model:dbscan")) {
        const d = t.dbscan.nearestCore(scale(v, t));
        const factor = d / t.dbscan.eps;
        // Sparse but ordinary corners of the baseline (quiet night hours) lie far from the
        // dense clusters too: only a window lonelier than any baseline window is an outlier.
        if (factor > ctx.cfg.dbscan_noise_factor && d > t.dbscan.maxKDistance) {
          const score = 1 - 1 / (1 + factor / ctx.cfg.dbscan_noise_factor);
          out.push(draft(
            w,
            "model:dbscan",
            score,
            `noise to DBSCAN${peer}: ${factor.toFixed(1)}× eps ${t.dbscan.eps.toFixed(3)} from ` +
              `the nearest cluster`,
            why,
          ));
        }
      }
      return out;
    },
    save: () => [...trained].map(([key, t]) => ({ key, n: t.n, at: t.at, rows: t.rows })),
    load(state) {
      if (!Array.isArray(state)) throw new SyntaxError("Cannot read the models' state");
      for (const e of state as { key: string; n: number; at: number; rows: number[][] }[]) {
        if (typeof e.key !== "string" || !Array.isArray(e.rows) || e.rows.length === 0) {
          throw new SyntaxError("Cannot read the models' state: a model without rows");
        }
        trained.set(e.key, { n: e.n, at: e.at, rows: e.rows, fit: null });
      }
    },
  };
}
