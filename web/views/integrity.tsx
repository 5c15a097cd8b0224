/**
 * Whether the store is intact, as the daemon's own checks say (the start checks and the full
 * verification in the background at start and daily, `daemon/serve/integrity.ts`): a card and a
 * damage notice for the Operator page, a paragraph for Management. Read from the status board,
 * never from the index. Problem texts name files and offsets the daemon found; shown as text.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { IntegrityStatus } from "../../daemon/serve/status.ts";
import { count, wallTime } from "./format.ts";
import { Text } from "./text.tsx";

function stateClass(i: IntegrityStatus): string {
  if (!i.healthy) return "bad";
  return i.state === "intact" ? "ok" : "warn";
}

/** The Operator card: intact, being verified, start-checked only, or damaged. */
export const IntegrityCard = ({ integrity: i }: { integrity: IntegrityStatus }): JSX.Element => {
  const v = i.lastVerification;
  return (
    <div class="card">
      <div>Store integrity</div>
      <div class={`big ${stateClass(i)}`} id="store-integrity">{i.state}</div>
      <small>
        {i.verifying
          ? `verifying since ${wallTime(i.verifying.since)}`
          : v
          ? `last verified ${wallTime(v.finishedAt)} (${count(v.events)} events)`
          : `start checks ${i.startCheck.ok ? "passed" : "failed"}; not verified yet`}
      </small>
    </div>
  );
};

/** The alarm when the store was found damaged; nothing while it was not. */
export const DamageNotice = (
  { integrity: i }: { integrity: IntegrityStatus | undefined },
): JSX.Element | null =>
  i === undefined || i.healthy ? null : (
    <p class="notice bad" role="alert" id="store-damaged">
      The store is damaged:{" "}
      <Text value={i.problem ?? "unknown damage"} />. Collection goes on and nothing is dropped, but
      the damaged part cannot be vouched for: run <code>vigil verify</code>{" "}
      for the whole picture. The daemon reports unhealthy until it is restarted on a store that
      passes its checks.
    </p>
  );

/** Management's account of the daemon's own checks. */
export const BackgroundVerification = (
  { integrity: i }: { integrity: IntegrityStatus | undefined },
): JSX.Element => {
  if (i === undefined) {
    return <p id="background-verification" class="muted">The daemon does not check the store.</p>;
  }
  const v = i.lastVerification;
  const c = i.startCheck;
  return (
    <div id="background-verification">
      <DamageNotice integrity={i} />
      <p>
        Checked by the daemon at start ({c.ok ? "passed" : "failed"}, {c.segments}{" "}
        segment files) and verified in full in the background at start and daily: {v
          ? (
            <>
              <span class={v.ok ? "ok" : "bad"}>{v.ok ? "Intact" : "Problem found"}</span>,{" "}
              {count(v.events)} events and {v.checkpoints} signed checkpoints, finished{" "}
              {wallTime(v.finishedAt)} ({v.trigger}).{" "}
              {v.problem ? <Text value={`First problem: ${v.problem}.`} /> : null}
            </>
          )
          : <span class="warn">not finished yet.</span>} {i.verifying
          ? `A verification is running since ${wallTime(i.verifying.since)}.`
          : i.nextAt === null
          ? null
          : `Next ${wallTime(i.nextAt)}.`}
      </p>
    </div>
  );
};
