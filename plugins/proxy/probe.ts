/**
 * "Test connection" for a proxy source: whether the configuration holds, whether the client
 * certificate and key load, whether the listen address can be bound (or is taken, as it is
 * while the proxy runs), and whether the upstream answers as a PostgreSQL server would — the
 * TLS handshake and its verification included when `sslmode` asks for them. Nothing logs in.
 * An unreachable upstream is reported without the system's reason, so that the probe cannot
 * be used to tell one closed port from another.
 */

import tls from "node:tls";
import { sslRequest } from "../../daemon/pgwire/encode.ts";
import { proxyConfigFromTable, type ProxySettings } from "./config.ts";
import { connectUpstream, upstreamCaCerts } from "./upstream.ts";

/** Probes a `[[sources]]` table of `type = "proxy"`; never throws. */
export async function probeProxy(
  table: Readonly<Record<string, unknown>>,
): Promise<{ ok: boolean; lines: string[] }> {
  let settings: ProxySettings;
  try {
    settings = proxyConfigFromTable(table);
  } catch (error) {
    return { ok: false, lines: [`configuration: ${(error as Error).message}`] };
  }
  const lines: string[] = [];
  let ok = true;
  if (settings.tlsCert !== null && settings.tlsKey !== null) {
    try {
      tls.createSecureContext({
        cert: await Deno.readTextFile(settings.tlsCert),
        key: await Deno.readTextFile(settings.tlsKey),
      });
      lines.push("client TLS: certificate and key load");
    } catch (error) {
      ok = false;
      lines.push(`client TLS: cannot load tls_cert/tls_key: ${(error as Error).name}`);
    }
  }
  const listen = `${settings.listen.hostname}:${settings.listen.port}`;
  try {
    Deno.listen({ hostname: settings.listen.hostname, port: settings.listen.port }).close();
    lines.push(`listen ${listen}: free`);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      lines.push(`listen ${listen}: in use (by the running proxy, or by another program)`);
    } else {
      ok = false;
      lines.push(`listen ${listen}: cannot listen (${(error as Error).name})`);
    }
  }
  const server = `${settings.server.host}:${settings.server.port}`;
  const found = await upstreamAnswers(settings);
  if (found === null) {
    ok = false;
    lines.push(
      `upstream ${server}: no PostgreSQL server answered (sslmode=${settings.server.sslmode})`,
    );
  } else {
    lines.push(`upstream ${server}: ${found}`);
  }
  return { ok, lines };
}

/** What the upstream showed, or null when it did not answer as PostgreSQL does. */
async function upstreamAnswers(settings: ProxySettings): Promise<string | null> {
  const { host, port, sslmode } = settings.server;
  try {
    if (sslmode !== "disable") {
      const up = await connectUpstream(settings, await upstreamCaCerts(settings));
      up.channel.close();
      return `TLS ${up.verified ? "with a verified certificate" : "(certificate chain checked)"}`;
    }
    const conn = await Deno.connect({ hostname: host, port });
    try {
      const timer = setTimeout(() => conn.close(), settings.server.connectTimeoutMs);
      await conn.write(sslRequest());
      const one = new Uint8Array(1);
      const n = await conn.read(one).finally(() => clearTimeout(timer));
      if (n !== 1 || (one[0] !== 0x53 && one[0] !== 0x4e)) return null;
      return "answers as a PostgreSQL server (no TLS: sslmode=disable; passwords other than " +
        "SCRAM are refused over this link)";
    } finally {
      try {
        conn.close();
      } catch { /* closed by the timer */ }
    }
  } catch {
    return null;
  }
}
