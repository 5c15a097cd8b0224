/**
 * The pgAudit plugin's part in the source contract (`tests/plugins/contract_test.ts`).
 * Upstream is a log directory written the way the logging collector writes it: csvlog rows of
 * pgAudit lines, appended; every `produce()` after the first renames the current file away
 * (rename rotation) halfway through, so that resuming has to span files. The probe reads a log
 * whose first record sets a password, in its own format and in the wrong ones, and must never
 * show the password.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { PGAUDIT_PLUGIN } from "../../../plugins/pgaudit/mod.ts";
import type { ContractHarness, SourceFixture } from "../../support/source_contract.ts";
import { auditMessage, csvRow } from "./_build.ts";

const MARK = /^SELECT 'contract-(\d+)'$/;

async function logFixture(): Promise<SourceFixture> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-pgaudit-contract-" });
  const current = `${dir}/postgresql.csv`;
  let calls = 0;
  const append = async (from: number, to: number): Promise<void> => {
    let text = "";
    for (let i = from; i < to; i++) {
      const ms = String(i % 1000).padStart(3, "0");
      text += csvRow({
        time: `2026-11-23 18:00:${String(i % 60).padStart(2, "0")}.${ms} UTC`,
        line: i,
        message: auditMessage(`SELECT 'contract-${i}'`),
      });
    }
    await Deno.writeTextFile(current, text, { append: true });
  };
  const table = {
    name: "contract",
    type: "pgaudit",
    path: `${dir}/postgresql*.csv`,
    format: "csvlog",
    current_logfiles: false,
    poll_interval_ms: 20,
    rotation_grace_ms: 100,
  };
  return {
    create: () => PGAUDIT_PLUGIN.create(table),
    produce: async (n, from) => {
      const half = from + Math.floor(n / 2);
      await append(from, half);
      if (calls++ > 0) await Deno.rename(current, `${dir}/postgresql-${calls}.csv`);
      await append(half, from + n);
    },
    identity: (ev: AuditEvent) => MARK.exec(ev.statement ?? "")?.[1] ?? null,
    close: () => Deno.remove(dir, { recursive: true }),
  };
}

export const HARNESS: ContractHarness = {
  table: () => ({
    name: "billing-log",
    type: "pgaudit",
    path: "/var/log/postgresql/*.csv",
    format: "csvlog",
  }),
  secretProbes: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-pgaudit-contract-" });
    const secret = `s3cret-${crypto.randomUUID()}`;
    const statement = `ALTER ROLE app PASSWORD '${secret}'`;
    await Deno.writeTextFile(
      `${dir}/postgresql.csv`,
      csvRow({ time: "2026-11-23 18:00:00.000 UTC", message: auditMessage(statement) }),
    );
    const table = (format: string, extra: Record<string, unknown> = {}) => ({
      table: {
        name: "billing-log",
        type: "pgaudit",
        path: `${dir}/*.csv`,
        format,
        current_logfiles: false,
        ...extra,
      },
      secret,
    });
    return {
      probes: [
        table("csvlog"),
        table("jsonlog"),
        table("stderr", { log_line_prefix: "%m [%p] " }),
      ],
      close: () => Deno.remove(dir, { recursive: true }),
    };
  },
  fixture: logFixture,
};
