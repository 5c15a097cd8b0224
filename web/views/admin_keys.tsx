/**
 * The Administration page's signing-key section: the current key and its public half, the key
 * history with each public key to download, and the rotation form (admin only, CSRF token, the
 * current key id typed again as confirmation).
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { KeyHistoryEntry } from "../../daemon/store/key_handover.ts";
import { wallTime } from "./format.ts";
import { Csrf } from "./layout.tsx";

/** The section. */
export const SigningKeys = (p: {
  keyId: string;
  history: readonly KeyHistoryEntry[];
  csrf: string;
}): JSX.Element => (
  <section id="signing-key">
    <h2>Signing key</h2>
    <p>
      Checkpoints are signed with Ed25519 key <code id="key-id">{p.keyId}</code>.{" "}
      <a href="/keys/signing.pub.pem" download="vigil-signing.pub.pem">Download the public key</a>
      {" "}
      and keep a copy away from this box: with it anyone can verify exports and checkpoints.
    </p>
    <table id="key-history">
      <thead>
        <tr>
          <th>key id</th>
          <th>state</th>
          <th>introduced</th>
          <th>public key</th>
        </tr>
      </thead>
      <tbody>
        {p.history.map((k) => (
          <tr>
            <td>
              <code>{k.keyId}</code>
            </td>
            <td>{k.current ? "current" : "retired"}</td>
            <td>
              {k.introduced
                ? `${
                  k.introduced.declaredLoss ? "declared loss" : "rotation"
                } at seq ${k.introduced.seq}, ${wallTime(k.introduced.ts / 1000)}` +
                  (k.introduced.by ? ` by ${k.introduced.by}` : "")
                : "first key"}
            </td>
            <td>
              <a
                href={`/keys/history/${k.keyId}.pub.pem`}
                download={`vigil-signing-${k.keyId}.pub.pem`}
              >
                Download
              </a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    <form method="post" action="/admin/keys/rotate" class="stack" id="rotate-key">
      <Csrf token={p.csrf} />
      <p class="muted">
        Rotating makes a new key. The change is an event in the chain, signed by the current key, so
        anyone holding the current public key can follow it; from then on the new key signs. The
        current key's public half stays downloadable above.
      </p>
      <label>
        reason (recorded in the chain)
        <input name="reason" maxlength={200} />
      </label>
      <label>
        type the current key id <code>{p.keyId}</code> to confirm
        <input name="confirm" required pattern={p.keyId} autocomplete="off" />
      </label>
      <button type="submit">Rotate signing key</button>
    </form>
  </section>
);
