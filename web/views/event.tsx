/** One event: every field, its place in the chain and its inclusion proof. */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { User } from "../../daemon/access/mod.ts";
import { type AuditEvent, EVENT_FIELDS } from "../../daemon/event/model.ts";
import type { ProofResult } from "../proof.ts";
import { eventTime } from "./format.ts";
import { Attribution, type AttributionView } from "./attribution.tsx";
import { Layout } from "./layout.tsx";
import { Text } from "./text.tsx";

function shown(e: AuditEvent, name: keyof AuditEvent): string | undefined {
  const v = e[name];
  if (v === undefined) return undefined;
  if (name === "ts" || name === "ingest_ts") return `${eventTime(v as number)} (${v})`;
  if (typeof v === "object") return JSON.stringify(v, null, 2);
  return String(v);
}

/** The event page. */
export const EventPage = ({ user, csrf, event, segment, proof, attribution = null }: {
  user: User;
  csrf: string;
  event: AuditEvent;
  segment: string | null;
  proof: ProofResult;
  /** The statement and row changes the index links to the event; null without an index. */
  attribution?: AttributionView | null;
}): JSX.Element => (
  <Layout title={`Event ${event.seq}`} user={user} csrf={csrf} active="/events">
    <h2>Fields</h2>
    <dl class="fields">
      {EVENT_FIELDS.filter((f) => event[f.name] !== undefined).map((f) => (
        <>
          <dt>{f.name}</dt>
          <dd class={f.name === "statement" || f.type === "json" ? "stmt" : undefined}>
            <Text value={shown(event, f.name)} />
          </dd>
        </>
      ))}
    </dl>
    <Attribution event={event} view={attribution} />
    <h2>Place in the chain</h2>
    <dl class="fields">
      <dt>seq (Merkle leaf index)</dt>
      <dd>{event.seq}</dd>
      <dt>segment</dt>
      <dd>{segment ?? "—"}</dd>
    </dl>
    <h2>Inclusion proof</h2>
    {proof.ok
      ? (
        <div class="notice" id="proof">
          <p>
            <span class={proof.signature_ok ? "ok" : "bad"}>
              {proof.signature_ok ? "Verified" : "Signature invalid"}
            </span>{" "}
            by the server: the event is leaf {proof.seq} of the tree of {proof.tree_size}{" "}
            events whose root <code>{proof.root}</code> is signed in the checkpoint of{" "}
            {eventTime(proof.checkpoint.ts)} (key {proof.checkpoint.key_id}).
          </p>
          <p>
            Leaf hash <code>{proof.leaf_hash}</code>, {proof.inclusion_proof.length} sibling hashes.
            {" "}
            <a href={`/events/${event.seq}/proof.json`}>Proof as JSON</a>{" "}
            — check it with the appliance's public key alone.
          </p>
        </div>
      )
      : <p class="notice">No proof yet: {proof.reason}.</p>}
  </Layout>
);
