/**
 * Whether the store `vigil serve` runs on is the one that was written. At start, before anything
 * is appended or served, the cheap checks of `verify_seals.ts` (every sealed segment there,
 * whole and continuing the one before, the log reaching every signed checkpoint — a block read
 * per segment file changed since the last start, a `stat` for each other one (`seal_cache.ts`);
 * then a full verification (`verifyStore`, what `vigil verify` does) in the background once the
 * start has settled (detection caught up: their memory does not add up; past the daemon's wait
 * for that, detection's catch-up is held while it runs, `onRun`) and every day after, on a
 * Worker of its own so that collection is not held up. With `[store] checkpoint_copy`, both
 * also hold the log to the copy's last checkpoint (`checkpoint_copy.ts`): only a checkpoint kept
 * outside the data directory shows the newest segments removed together with the checkpoints
 * after them.
 *
 * Promises: every verification's result is a system event in the chain — `STORE_VERIFIED`, or
 * `STORE_DAMAGED` with the first problem as its error — and so is a failed start check; the
 * detector `audit_tampering` reacts to `STORE_DAMAGED`. The first damage found makes the daemon
 * unhealthy (`/healthz` 503) until it restarts, whatever later runs find: damage does not mend
 * itself, and a store put right is checked again at the restart. A checkpoint that could not be
 * appended to the copy also makes it unhealthy, until one is. Collection goes on meanwhile;
 * nothing is dropped because the store is damaged.
 */

import type { JsonObject, NewEvent } from "../event/model.ts";
import type { Checkpoint } from "../store/checkpoint.ts";
import { log } from "../log.ts";
import type { LogPlace } from "../store/errors.ts";
import { readRetainedStart } from "../store/retained.ts";
import type { Store } from "../store/store.ts";
import type { VerifyReport } from "../store/verify.ts";
import { SealCache } from "../store/seal_cache.ts";
import { checkSeals } from "../store/verify_seals.ts";
import { lastCopiedCheckpoint } from "./checkpoint_copy.ts";
import type { IntegrityStatus, VerificationResult } from "./status.ts";

/** The system event of a full verification that found the store intact. */
export const STORE_VERIFIED = "STORE_VERIFIED";
/** The system event of damage found, by the start checks or a verification. */
export const STORE_DAMAGED = "STORE_DAMAGED";
/** How often the full verification runs after the one at start. */
export const VERIFY_INTERVAL_MS = 24 * 3600_000;
/** Runs of one verification when retention moved the log's start while it ran. */
const MAX_ATTEMPTS = 3;

/**
 * Runs one full verification of `dataDir`, holding the log to `trusted` checkpoints kept off the
 * data directory as well; rejects once `signal` aborts.
 */
export type RunVerification = (
  dataDir: string,
  signal: AbortSignal,
  trusted?: Checkpoint[],
) => Promise<VerifyReport>;

/** Options of {@link StoreIntegrity.check}. */
export interface IntegrityOptions {
  /** The source the daemon's own events are stored under. */
  source: string;
  /** Between the end of one full verification and the start of the next; default a day. */
  intervalMs?: number;
  now?: () => number;
  /** Default: `verifyStore` on a Worker ({@link verifyOnWorker}). */
  verify?: RunVerification;
  /**
   * `[store] checkpoint_copy`: its last checkpoint must not be past the log's end (start check)
   * and must hold in every full verification (`checkpoint_copy.ts`).
   */
  checkpointCopy?: string | null;
  /**
   * Given each full verification as it begins, ending with it: for what else reads the whole
   * log in the background (detection catching up) to wait until it is over.
   */
  onRun?: (run: Promise<void>) => void;
}

/** The start checks and the background verification of one daemon's store. */
export class StoreIntegrity {
  readonly #store: Store;
  readonly #opts: IntegrityOptions;
  readonly #now: () => number;
  readonly #startCheck: IntegrityStatus["startCheck"];
  #problem: string | null;
  #last: VerificationResult | null = null;
  #running: { since: number; trigger: string; done: Promise<void> } | null = null;
  #nextAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #stopped = false;
  readonly #runs = { intact: 0, damaged: 0 };
  #copy: { lastSize: number | null; error: string | null } = { lastSize: null, error: null };

  private constructor(store: Store, opts: IntegrityOptions, check: IntegrityStatus["startCheck"]) {
    this.#store = store;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#startCheck = check;
    this.#problem = check.ok ? null : `${check.problem} (found by the start checks)`;
  }

  /**
   * Runs the start checks on a store just opened, before anything is appended to it (they read
   * the active segment's end as the writer left it).
   */
  static async check(store: Store, opts: IntegrityOptions): Promise<StoreIntegrity> {
    const now = opts.now ?? Date.now;
    const at = now();
    let ok = true;
    let segments = 0;
    let problem: string | null = null;
    let cached = 0;
    try {
      const cache = await SealCache.open(store.dataDir);
      const r = await checkSeals(store.dataDir, {
        size: store.size,
        checkpoint: store.lastCheckpoint,
      }, { cache });
      cached = cache.hits;
      ({ ok, segments } = r);
      problem = r.problem?.text ?? null;
      if (ok && opts.checkpointCopy) {
        problem = keptProblem(
          store,
          opts.checkpointCopy,
          await lastCopiedCheckpoint(opts.checkpointCopy),
        );
        ok = problem === null;
      }
    } catch (e) {
      ok = false;
      problem = `the start checks could not run: ${(e as Error)?.message ?? e}`;
    }
    const seconds = (now() - at) / 1000;
    if (ok) log("info", "store start checks passed", { segments, cached, seconds });
    else log("error", "the store is damaged: the start checks failed", { problem });
    return new StoreIntegrity(store, opts, { ok, at, seconds, segments, problem });
  }

  /**
   * Records a failed start check in the chain and starts the background verification: the
   * first one once `after` settles (the start's other reading of the log is done, so that the
   * two do not hold memory at once), else now. Call once the daemon's start is recorded and
   * detection follows the store.
   */
  async start(after?: Promise<unknown>): Promise<void> {
    const c = this.#startCheck;
    if (!c.ok) {
      await this.#record(STORE_DAMAGED, { check: "start", segments: c.segments }, c.problem!);
    }
    if (after === undefined) void this.verify("start");
    else {
      const run = (): void => void this.verify("start");
      after.then(run, run);
    }
  }

  /** Runs a full verification now (joining one in progress) and records its result. */
  verify(trigger: string): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) return this.#running.done;
    clearTimeout(this.#timer);
    this.#nextAt = null;
    const since = this.#now();
    const done = this.#run(trigger, since).catch((e) => {
      log("error", "the store verification failed to run", { error: String(e) });
    }).finally(() => {
      this.#running = null;
      if (this.#stopped) return;
      const every = this.#opts.intervalMs ?? VERIFY_INTERVAL_MS;
      this.#nextAt = this.#now() + every;
      this.#timer = setTimeout(() => void this.verify("daily"), every);
    });
    this.#running = { since, trigger, done };
    this.#opts.onRun?.(done);
    return done;
  }

  /** Notes a checkpoint appended to `[store] checkpoint_copy`, or why it was not. */
  copied(size: number, error?: unknown): void {
    if (error === undefined) this.#copy = { lastSize: size, error: null };
    else this.#copy = { ...this.#copy, error: (error as Error)?.message ?? String(error) };
  }

  /** For `/healthz`, `/metrics` and the pages. */
  status(): IntegrityStatus {
    // A run whose result is in (its event still being appended) is verifying no more.
    const running = this.#running?.since === this.#last?.startedAt ? null : this.#running;
    const copy = this.#opts.checkpointCopy;
    return {
      ...(copy ? { checkpointCopy: { path: copy, ...this.#copy } } : {}),
      state: this.#problem !== null
        ? "damaged"
        : running
        ? "verifying"
        : this.#last?.ok
        ? "intact"
        : "checked",
      // A copy that is not kept weakens what an auditor relies on: unhealthy until one succeeds.
      healthy: this.#problem === null && this.#copy.error === null,
      problem: this.#problem,
      startCheck: this.#startCheck,
      lastVerification: this.#last,
      verifying: running ? { since: running.since, trigger: running.trigger } : null,
      nextAt: this.#nextAt,
      runs: { ...this.#runs },
    };
  }

  /** Cancels the schedule and a run in progress (its result is not recorded). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#nextAt = null;
    this.#abort.abort();
    await this.#running?.done;
  }

  async #run(trigger: string, since: number): Promise<void> {
    const dataDir = this.#store.dataDir;
    const run = this.#opts.verify ?? verifyOnWorker;
    let report: VerifyReport | null = null;
    let failure: string | null = null;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const startBefore = await retainedFrom(dataDir);
      try {
        const copy = this.#opts.checkpointCopy;
        const kept = copy ? await lastCopiedCheckpoint(copy) : null;
        report = await run(dataDir, this.#abort.signal, kept === null ? undefined : [kept]);
        failure = null;
      } catch (e) {
        if (this.#stopped) return;
        failure = `the verification could not run: ${(e as Error)?.message ?? e}`;
      }
      if (report?.ok && failure === null) break;
      // Retention deletes the oldest segments after moving the log's start: a run that read the
      // old start may have found a segment gone that is gone by right. Such a run is repeated.
      if (await retainedFrom(dataDir) === startBefore) break;
      log("info", "retention moved the log's start during a verification; it runs again");
    }
    if (this.#stopped) return;
    const problem = failure ?? (report!.ok ? null : report!.problem!.text);
    const result: VerificationResult = {
      ok: problem === null,
      trigger,
      startedAt: since,
      finishedAt: this.#now(),
      events: report?.events ?? 0,
      checkpoints: report?.checkpoints ?? 0,
      problem,
    };
    this.#last = result;
    const seconds = (result.finishedAt - since) / 1000;
    const context: JsonObject = {
      check: "verification",
      trigger,
      events: result.events,
      checkpoints: result.checkpoints,
      segments: report?.segments ?? 0,
      seconds,
    };
    if (result.ok) {
      this.#runs.intact++;
      log("info", "store verified: intact", { trigger, events: result.events, seconds });
      await this.#record(STORE_VERIFIED, { ...context, unsigned: report!.unsigned });
      return;
    }
    this.#runs.damaged++;
    const by = trigger === "start" ? "the verification at start" : `the ${trigger} verification`;
    this.#problem ??= `${problem} (found by ${by})`;
    log("error", "the store is damaged: the verification failed", { trigger, problem });
    await this.#record(STORE_DAMAGED, { ...context, ...placeOf(report?.problem?.place) }, problem!);
  }

  /** Appends one system event; a store that cannot take it is logged, not thrown. */
  async #record(command: string, context: JsonObject, error?: string): Promise<void> {
    const source = this.#opts.source;
    const ev: NewEvent = { ts: this.#now() * 1000, source, kind: "system", command, context };
    if (error !== undefined) ev.error = error;
    try {
      await this.#store.append({ source, events: [ev] });
    } catch (e) {
      log("error", "cannot record a store check in the chain", { command, error: String(e) });
    }
  }
}

/**
 * What a checkpoint kept in the copy says is wrong with a store just opened, or null: a log that
 * ends before it (its newest segments removed with the checkpoints after them), or a checkpoint
 * of the same size with another root. The signature is checked by the full verification.
 */
function keptProblem(store: Store, copy: string, kept: Checkpoint | null): string | null {
  if (kept === null) return null;
  if (kept.size > store.size) {
    return `the log holds ${store.size} events, but the checkpoint copy ${copy} holds a signed ` +
      `checkpoint of ${kept.size}: the newest events were removed, with the checkpoints after them`;
  }
  const last = store.lastCheckpoint;
  if (last !== null && last.size === kept.size && last.root !== kept.root) {
    return `the latest checkpoint (size ${last.size}) has root ${last.root}, the checkpoint copy ` +
      `${copy} has ${kept.root} for the same size`;
  }
  return null;
}

/** The place of a problem as event context: only what is known. */
function placeOf(place: LogPlace | undefined): JsonObject {
  const out: JsonObject = {};
  if (place?.segment !== undefined) out.segment = place.segment;
  if (place?.offset !== undefined) out.offset = place.offset;
  if (place?.seq !== undefined) out.seq = place.seq;
  return out;
}

/** The seq the log starts at after retention (0 before any); -1 when `retained.json` is unreadable. */
async function retainedFrom(dataDir: string): Promise<number> {
  try {
    return (await readRetainedStart(dataDir))?.from_seq ?? 0;
  } catch {
    return -1;
  }
}

/** Runs `verifyStore` on a Worker of its own (`integrity_worker.ts`); aborting terminates it. */
export function verifyOnWorker(
  dataDir: string,
  signal: AbortSignal,
  trusted?: Checkpoint[],
): Promise<VerifyReport> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("stopped"));
    const w = new Worker(new URL("./integrity_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const end = (): void => {
      signal.removeEventListener("abort", onAbort);
      w.terminate();
    };
    const onAbort = (): void => {
      end();
      reject(new Error("stopped"));
    };
    signal.addEventListener("abort", onAbort);
    w.onmessage = (e: MessageEvent<{ report?: VerifyReport; error?: string }>) => {
      end();
      if (e.data.report) resolve(e.data.report);
      else reject(new Error(e.data.error ?? "no report"));
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      end();
      reject(new Error(`verification worker failed: ${e.message}`));
    };
    w.postMessage({ dataDir, trusted });
  });
}
