/**
 * Command-line parsing shared by every command: `node:util`'s parseArgs in strict mode, so an
 * unknown or malformed flag is a usage error (exit 2) with a one-line message.
 */

import { parseArgs } from "node:util";

/** A command line the user got wrong: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Spec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

/** Parses `argv` against `spec`; throws UsageError on anything unknown or malformed. */
export function parseFlags<S extends Spec>(
  argv: string[],
  spec: S,
): {
  values: { [K in keyof S]?: S[K]["type"] extends "boolean" ? boolean : string };
  rest: string[];
} {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: spec,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as never, rest: positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
}

/** The value of a required flag, or a UsageError naming it. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`missing --${flag}`);
  return value;
}

/** A non-negative integer flag. */
export function intFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Rejects positional arguments a command does not take. */
export function noRest(rest: string[]): void {
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
}
