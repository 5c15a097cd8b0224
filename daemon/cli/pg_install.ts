/**
 * `vigil pg-install --dsn DSN [--pgaudit CLASSES [--role R] [--database D]]`. Without
 * `--pgaudit`: installs, or brings up to date, the PostgreSQL side of WAL
 * collection in the DSN's database (event triggers for DDL, `vigil.set_context()`), and prints
 * what it installed. Safe to run again: a second run re-applies the same version. Needs a
 * superuser; any other role is refused before anything changes (exit 3, naming what is
 * missing). Event triggers are per database: run it once in each database a WAL source reads.
 * With `--pgaudit` it sets only the pgAudit scope (`pg/pgaudit_scope.ts`: globally, for a
 * database, a role, or a role in a database; `recommended` for Vigil's recommendation) and
 * prints what changed; a re-run changes nothing.
 */

import { print } from "../log.ts";
import { installPgSide, openInstallSession } from "../pg/install.ts";
import { applyPgauditScope, normalizePgauditLog, type PgauditScope } from "../pg/pgaudit_scope.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

/** Runs `vigil pg-install`; returns the exit code. */
export async function pgInstallCommand(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    dsn: { type: "string" },
    pgaudit: { type: "string" },
    role: { type: "string" },
    database: { type: "string" },
  });
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
  if (values.pgaudit === undefined && (values.role ?? values.database) !== undefined) {
    throw new UsageError("--role and --database go with --pgaudit");
  }
  if (values.pgaudit !== undefined) {
    return await pgauditCommand(dsn, values.pgaudit, {
      ...(values.role === undefined ? {} : { role: values.role }),
      ...(values.database === undefined ? {} : { database: values.database }),
    });
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

/** `--pgaudit`: sets the scope, prints what changed (or that nothing did). */
async function pgauditCommand(dsn: string, value: string, scope: PgauditScope): Promise<number> {
  try {
    normalizePgauditLog(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const conn = await openInstallSession(dsn);
  try {
    const report = await applyPgauditScope(conn, value, scope);
    const was = report.before === null ? "none set there" : `'${report.before}'`;
    print(
      report.changed
        ? `pgaudit.log ${report.scope}: ${was} → '${report.after}'` +
          (scope.role === undefined && scope.database === undefined
            ? " (ALTER SYSTEM, configuration reloaded)"
            : " (for sessions that start from now on)")
        : `pgaudit.log ${report.scope} is already '${report.before}': nothing changed`,
    );
    return 0;
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  } finally {
    await conn.close();
  }
}
