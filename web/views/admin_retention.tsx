/**
 * Local retention on the Administration page: how long sealed segments stay on the box once
 * every export target holds them. The config file's `[store] retain_local` decides when it is
 * set, and is shown read-only; otherwise a form sets or clears the one in `managed.toml`.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import { baseName, type ConfigExtra, RETENTION_FORM } from "../routes/admin_config.ts";
import type { ConfigState } from "../routes/admin_config_state.ts";
import { Csrf } from "./layout.tsx";
import { Text } from "./text.tsx";

/** The section, with the effective value and where it comes from. */
export const LocalRetention = (
  p: { state: ConfigState; csrf: string; extra: ConfigExtra },
): JSX.Element => {
  const fileName = baseName(p.state.place.file);
  const fromFile = p.state.fileRetainLocal;
  const managed = p.state.managed.retainLocal;
  const mine = p.extra.configError?.form === RETENTION_FORM ? p.extra.configError : undefined;
  const origin = fromFile !== null ? "file" : managed !== null ? "managed" : "none";
  return (
    <div id="retention" data-origin={origin}>
      <h2>Local retention</h2>
      <p class="muted">
        How long sealed segments stay on this box once every export target holds them; the daemon
        deletes older ones after each export run, with a <code>RETENTION_DELETE</code>{" "}
        event in the chain. Without it, local segments are kept forever. A change applies from the
        reload that follows it; export targets added since the daemon started, from its next
        restart.
      </p>
      <p id="retention-effective">
        {fromFile !== null
          ? (
            <>
              Local segments are kept <strong>{fromFile}</strong> after export:{" "}
              <span class="muted">from {fileName}</span>, and changed there.
            </>
          )
          : managed !== null
          ? (
            <>
              Local segments are kept{" "}
              <strong>
                <Text value={managed} />
              </strong>{" "}
              after export: managed in the UI.
            </>
          )
          : <>Off: local segments are kept forever.</>}
      </p>
      {fromFile !== null
        ? (mine ? <p class="notice bad" role="alert">{mine.message}</p> : null)
        : (
          <form method="post" action="/admin/retention" class="stack" id={RETENTION_FORM}>
            <Csrf token={p.csrf} />
            {mine ? <p class="notice bad" role="alert">{mine.message}</p> : null}
            <label>
              retain_local
              <span class="muted">(e.g. 90d or 36h; empty keeps local segments forever)</span>
              <input
                name="retain_local"
                type="text"
                autocomplete="off"
                value={mine === undefined ? managed ?? "" : mine.fields.retain_local ?? ""}
              />
            </label>
            <button type="submit">Save</button>
          </form>
        )}
    </div>
  );
};
