/**
 * How refused sign-ins reach the chain without letting strangers write unbounded events. Time
 * is cut into windows (a minute); in each, an address's first few refused sign-ins are events
 * of their own (LOGIN_FAILED with the name tried, durable before the form is answered), up to a
 * cap for all addresses together. Past that, refused sign-ins are counted per address, and the
 * counts go into the chain as aggregated LOGIN_FAILED events (`context.aggregated`): one per
 * address when its window is over, and early when its count reaches 10, 100, 1,000 …, so that
 * a burst is in the chain even if the daemon stops before the window ends. A few addresses get
 * events of their own; the rest are summed into one. Events per window are so bounded however
 * many attempts and addresses there are (see {@link SIGN_IN_POLICY}), while the individual and
 * aggregated events together still count every refused sign-in — save those counted since the
 * last early report when the daemon stops within that window.
 */

import type { JsonObject } from "../daemon/event/model.ts";
import { formatRfc3339Micros } from "../daemon/event/time.ts";
import { log } from "../daemon/log.ts";
import { recordAs } from "./audit_trail.ts";
import type { WebDeps } from "./deps.ts";

/** The limits of the sign-in trail. */
export interface SignInPolicy {
  readonly windowMs: number;
  /** Refused sign-ins of one address per window recorded one by one. */
  readonly perAddress: number;
  /** Refused sign-ins of all addresses per window recorded one by one. */
  readonly perWindow: number;
  /** Addresses per window whose counts get aggregated events of their own. */
  readonly ownAddresses: number;
  /** Names tried that an aggregated event lists. */
  readonly names: number;
}

/** At most 50 + 21 × (1 + early reports) events a minute, however they try. */
export const SIGN_IN_POLICY: SignInPolicy = {
  windowMs: 60_000,
  perAddress: 5,
  perWindow: 50,
  ownAddresses: 20,
  names: 10,
};

/** A refused sign-in. */
export interface RefusedSignIn {
  /** The name tried (already cut to a sane length). */
  name: string;
  addr: string;
  /** Why, as the event's `error` says it. */
  error: string;
  locked: boolean;
}

/** Counted refused sign-ins of one address (or of the others summed together). */
interface Tally {
  /** Counted since the last aggregated event, and in all in this window. */
  pending: number;
  counted: number;
  locked: number;
  names: Set<string>;
  /** Distinct addresses summed in (the others' tally only). */
  addresses: number;
}

/** One address in a window: how many it tried, and where its counts go once it counts. */
interface Seen {
  attempts: number;
  tally: Tally | null;
}

interface Window {
  start: number;
  individual: number;
  seen: Map<string, Seen>;
  /** Tallies of addresses of their own. */
  own: number;
  others: Tally;
}

/** Addresses a window follows one by one; past it they are summed with the others. */
const MAX_SEEN = 10_000;

function tally(): Tally {
  return { pending: 0, counted: 0, locked: 0, names: new Set(), addresses: 0 };
}

/** Whether a count is one the chain hears about at once: 10, 100, 1,000 … */
function early(counted: number): boolean {
  return counted >= 10 && /^10*$/.test(String(counted));
}

/** Records refused sign-ins of one web app. */
export class SignInTrail {
  #deps: WebDeps;
  #policy: SignInPolicy;
  #window: Window | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(deps: WebDeps, policy: SignInPolicy = SIGN_IN_POLICY) {
    this.#deps = deps;
    this.#policy = policy;
  }

  /**
   * Records one refused sign-in: as an event of its own, durable before this resolves, or in
   * the counts (an aggregated event is durable before this resolves when the count is one to
   * report at once).
   */
  async refused(r: RefusedSignIn): Promise<void> {
    const now = this.#now();
    await this.flushDue(now);
    const p = this.#policy;
    const w = this.#window ??= {
      start: now - (now % p.windowMs),
      individual: 0,
      seen: new Map(),
      own: 0,
      others: tally(),
    };
    let seen = w.seen.get(r.addr);
    if (seen === undefined && w.seen.size < MAX_SEEN) {
      seen = { attempts: 0, tally: null };
      w.seen.set(r.addr, seen);
    }
    if (seen !== undefined) seen.attempts++;
    if (seen !== undefined && seen.attempts <= p.perAddress && w.individual < p.perWindow) {
      w.individual++;
      await recordAs(this.#deps, { name: r.name, addr: r.addr }, {
        command: "LOGIN_FAILED",
        object: r.name,
        error: r.error,
      });
      return;
    }
    let t = w.others;
    if (seen !== undefined) {
      if (seen.tally === null) {
        seen.tally = w.own < p.ownAddresses ? (w.own++, tally()) : w.others;
        if (seen.tally === w.others) w.others.addresses++;
      }
      t = seen.tally;
    }
    t.pending++;
    t.counted++;
    if (r.locked) t.locked++;
    if (t.names.size < p.names) t.names.add(r.name);
    this.#arm(w, now);
    if (early(t.counted)) await this.#report(w, t === w.others ? null : r.addr, t, false);
  }

  /** Writes the aggregated events of a window that is over by `now`. */
  async flushDue(now: number = this.#now()): Promise<void> {
    const w = this.#window;
    if (w === null || now < w.start + this.#policy.windowMs) return;
    this.#window = null;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [addr, seen] of w.seen) {
      const t = seen.tally;
      if (t !== null && t !== w.others && t.pending > 0) await this.#report(w, addr, t, true);
    }
    if (w.others.pending > 0) await this.#report(w, null, w.others, true);
  }

  /** Flushes the window when it ends, even if no one tries to sign in again. */
  #arm(w: Window, now: number): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, w.start + this.#policy.windowMs - now) + 100;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flushDue().catch((e) =>
        log("error", "cannot record refused sign-ins in the chain", { error: String(e) })
      );
    }, wait);
    Deno.unrefTimer(this.#timer);
  }

  async #report(w: Window, addr: string | null, t: Tally, final: boolean): Promise<void> {
    const attempts = t.pending;
    t.pending = 0;
    const names = [...t.names];
    const context: JsonObject = {
      aggregated: true,
      attempts,
      counted_in_window: t.counted,
      window_from: formatRfc3339Micros(w.start * 1000),
      window_to: formatRfc3339Micros((w.start + this.#policy.windowMs) * 1000),
      window_over: final,
      names,
      locked: t.locked,
    };
    if (addr === null) context.addresses = t.addresses;
    const from = addr ?? `${t.addresses === 0 ? "many" : t.addresses} other addresses`;
    await recordAs(this.#deps, {
      name: names.length === 1 ? names[0]! : "anonymous",
      addr: addr ?? "",
    }, {
      command: "LOGIN_FAILED",
      ...(names.length === 1 ? { object: names[0]! } : {}),
      context,
      error: `${attempts} refused sign-ins from ${from}, counted rather than recorded one by one`,
    });
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }
}
