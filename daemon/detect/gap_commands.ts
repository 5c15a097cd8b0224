/**
 * The one list of `system` event commands that mean "the record may be incomplete" (gaps) and
 * "an earlier gap closed" (recoveries): the core's own, plus each source plugin's
 * (`SourcePlugin.gapCommands`). Detection raises an alarm on a gap, the compliance report lists
 * gaps and recoveries, and an ingest token may post neither: all read the list this module
 * assembles. `daemon/` never imports a plugin, so whoever wires the daemon together passes the
 * registry in (`plugins/mod.ts` exports the assembled list as `GAP_COMMANDS`).
 */

/**
 * The core's gaps: a signing key replaced without its predecessor's signature (a declared loss:
 * verify passes but cannot vouch across it), and a stored log that `serve`'s start checks or
 * background verification found damaged (`daemon/serve/integrity.ts`), and auditing reduced in
 * the database, as a source reads its configuration back. A planned KEY_ROTATE is signed by the
 * old key and is not among them.
 */
export const CORE_GAP_COMMANDS: readonly string[] = Object.freeze([
  // Spelled out rather than imported: the store and serve sit above detection on the path.
  "KEY_LOSS_DECLARED",
  "STORE_DAMAGED",
  "AUDIT_REDUCED",
]);

/** Gaps and recoveries, each a set of commands. */
export interface GapCommands {
  readonly gap: ReadonlySet<string>;
  readonly recovery: ReadonlySet<string>;
}

/** What a source plugin adds to the list. */
export interface GapSource {
  readonly gapCommands: readonly string[];
  readonly recoveryCommands: readonly string[];
}

/** The core's commands and those of every source in `sources`. */
export function gapCommands(sources: readonly GapSource[]): GapCommands {
  return {
    gap: new Set([...CORE_GAP_COMMANDS, ...sources.flatMap((s) => s.gapCommands)]),
    recovery: new Set(sources.flatMap((s) => s.recoveryCommands)),
  };
}
