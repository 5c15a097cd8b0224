/**
 * Records the pgAudit log fixtures beside this file from a throwaway PostgreSQL 15 with pgAudit
 * (password logins on, so that a failed login is logged): runs the workload of
 * `tests/plugins/pgaudit/_workload.ts` and copies what the server wrote, byte for byte:
 * - `postgresql.csv` (csvlog), `postgresql.jsonlog` (jsonlog: `.json` on the server, renamed
 *   because it is JSON lines, which `deno fmt` would refuse as JSON), `postgresql.log` (stderr);
 * - `workload.json`: the server version, its `log_line_prefix` and the workload's sessions
 *   with what each step must show, which the fixture test checks the files against.
 *
 * Run from the repository root: `deno run --allow-all tests/testdata/pgaudit/record.ts`.
 * Times, pids, session ids and temp paths differ from run to run; the checks depend on none.
 */

import { startPostgres } from "../../support/postgres.ts";
import { runWorkload, SESSIONS } from "../../plugins/pgaudit/_workload.ts";

const here = new URL(".", import.meta.url);

await using pg = await startPostgres({ passwordAuth: true });
const serverVersion = await pg.sql("SHOW server_version");
await runWorkload(pg);
const files = await pg.logFiles();
for (
  const [from, name] of [
    [files.csvlog, "postgresql.csv"],
    [files.jsonlog, "postgresql.jsonlog"],
    [files.stderr, "postgresql.log"],
  ]
) {
  const to = new URL(name!, here);
  await Deno.copyFile(from!, to);
  await Deno.chmod(to, 0o644); // The server writes 0640; a fixture is for everyone to read.
}
const meta = { serverVersion, logLinePrefix: pg.logLinePrefix, sessions: SESSIONS };
await Deno.writeTextFile(new URL("workload.json", here), JSON.stringify(meta, null, 2) + "\n");
console.log(`recorded the pgAudit workload from PostgreSQL ${serverVersion}`);
