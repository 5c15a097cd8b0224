/**
 * The pgAudit source against the shared source contract. Upstream is a log directory written
 * the way the logging collector writes it: csvlog rows of pgAudit lines, appended; every
 * `produce()` after the first renames the current file away (rename rotation) halfway through,
 * so that resuming has to span files.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { pgauditSource } from "../../../plugins/pgaudit/mod.ts";
import { sourceContract, type SourceFixture } from "../../support/source_contract.ts";
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
  return {
    create: () =>
      pgauditSource({
        path: `${dir}/postgresql*.csv`,
        format: "csvlog",
        current_logfiles: false,
        poll_interval_ms: 20,
        rotation_grace_ms: 100,
      }),
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

sourceContract("pgaudit source", logFixture);
