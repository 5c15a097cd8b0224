/**
 * `vigil pg-install --dsn DSN`: installs, or brings up to date, the PostgreSQL side of WAL
 * collection in the DSN's database (event triggers for DDL, `vigil.set_context()`), and prints
 * what it installed. Safe to run again: a second run re-applies the same version. Needs a
 * superuser; any other role is refused before anything changes (exit 3, naming what is
 * missing). Event triggers are per database: run it once in each database a WAL source reads.
 */

import { print } from "../log.ts";
import { installPgSide } from "../pg/install.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil pg-install`; returns the exit code. */
export async function pgInstallCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { dsn: { type: "string" } });
  noRest(rest);
  const dsn = required(values.dsn, "dsn");
  let url: URL | undefined;
  try {
    url = new URL(dsn);
  } catch { /* reported below */ }
  if (url === undefined || !["postgres:", "postgresql:"].includes(url.protocol)) {
    // Not echoed: a DSN may carry a password.
    throw new UsageError("--dsn must be a postgres:// or postgresql:// URL");
  }
  const report = await installPgSide(dsn);
  const what = report.action === "installed"
    ? `installed version ${report.version}`
    : report.action === "updated"
    ? `updated from version ${report.previousVersion} to ${report.version}`
    : `re-applied version ${report.version} (it was installed already)`;
  print(
    `${what} of Vigil's SQL in database "${report.database}" on ${report.server} ` +
      `as ${report.role}:`,
  );
  for (const object of report.objects) print(`  ${object}`);
  if (report.changes.length === 0 && report.tables.length === 0) {
    print("  (nothing to change: every object was as it should be)");
  }
  for (const change of report.changes) print(`  ran: ${change.split("\n")[0]}`);
  for (const t of report.tables) {
    print(`  ${t.action === "created" ? "put" : "re-enabled"} the statement trigger on ${t.tbl}`);
  }
  print(
    "Applications attach who/why to a transaction with one call inside it: " +
      `SELECT vigil.set_context('{"user": "ada", "reason": "refund"}');`,
  );
  return 0;
}
