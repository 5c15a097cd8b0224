/**
 * The proxy plugin's part in the source contract (`tests/plugins/contract_test.ts`). Its
 * upstream is a real PostgreSQL cluster, and a record is a statement a client sends through the
 * proxy: `SELECT 'contract-N'` from psql. A proxy is a live source — clients reach the server
 * only through it, so nothing is produced while it is stopped and the fixture says so
 * (`live`): the contract produces while the source runs, and checks that a restart stores
 * nothing twice. The probe reads a client key file whose text is the secret; its lines must not
 * show it.
 */

import type { AuditEvent } from "../../../daemon/event/model.ts";
import { PROXY_PLUGIN } from "../../../plugins/proxy/mod.ts";
import { assertEventually } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import type { ContractHarness, SourceFixture } from "../../support/source_contract.ts";
import { psql } from "./_harness.ts";
import { freePort } from "../../support/ports.ts";

const MARK = /^SELECT 'contract-(\d+)'$/;

async function proxyFixture(): Promise<SourceFixture> {
  const pg = await startPostgres();
  const port = freePort();
  const table = {
    name: "contract",
    type: "proxy",
    listen: `127.0.0.1:${port}`,
    upstream: `postgres://${pg.host}:${pg.port}/`,
  };
  return {
    live: true,
    create: () => PROXY_PLUGIN.create(table),
    produce: async (n, from) => {
      const args: string[] = [];
      for (let i = from; i < from + n; i++) args.push("-c", `SELECT 'contract-${i}'`);
      // The source was just started: psql is retried until the proxy listens.
      await assertEventually(async () => {
        const r = await psql(port, args);
        if (r.code === 0) return true;
        if (/refused|could not connect/i.test(r.stderr)) return false;
        throw new Error(`psql through the proxy failed: ${r.stderr}`);
      }, { timeoutMs: 30_000, message: "psql through the proxy" });
    },
    identity: (ev: AuditEvent) =>
      ev.kind === "session" && ev.command === "SELECT"
        ? MARK.exec(ev.statement ?? "")?.[1] ?? null
        : null,
    close: () => pg.close(),
  };
}

export const HARNESS: ContractHarness = {
  table: () => ({
    name: "billing-proxy",
    type: "proxy",
    listen: "127.0.0.1:6432",
    upstream: "postgres://db1:5432/?sslmode=verify-full&sslrootcert=/etc/vigil/db1-ca.pem",
  }),
  secretProbes: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-proxy-contract-" });
    const secret = `s3cret-${crypto.randomUUID()}`;
    await Deno.writeTextFile(`${dir}/proxy.key`, `-----BEGIN PRIVATE KEY-----\n${secret}\n`);
    await Deno.writeTextFile(`${dir}/proxy.crt`, `-----BEGIN CERTIFICATE-----\n${secret}\n`);
    return {
      probes: [{
        table: {
          name: "billing-proxy",
          type: "proxy",
          listen: "127.0.0.1:0",
          upstream: "postgres://127.0.0.1:1/",
          tls_cert: `${dir}/proxy.crt`,
          tls_key: `${dir}/proxy.key`,
        },
        secret,
      }],
      close: () => Deno.remove(dir, { recursive: true }),
    };
  },
  fixture: proxyFixture,
};
