/**
 * Alerts as RFC 5424 syslog messages, over UDP (one datagram each) or TCP (octet-counted
 * framing, RFC 6587). Facility 13 (log audit); the alert's severity maps onto syslog's, its
 * fields ride in one structured-data element, and the message is the one-line summary in UTF-8.
 */

import dgram from "node:dgram";
import { formatRfc3339Micros } from "../event/time.ts";
import type { Alert } from "./alert.ts";
import { type AlertChannel, alertSummary } from "./channel.ts";
import type { Severity } from "./config.ts";

const FACILITY = 13;
const LEVEL: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };
/** Private enterprise number 32473 is the one RFC 5612 reserves for documentation and examples. */
const SD_ID = "vigil@32473";
const encoder = new TextEncoder();

/** Options of the syslog channel. */
export interface SyslogOptions {
  /** `host:port` of the collector. */
  address: string;
  transport: "udp" | "tcp";
  app_name: string;
  min_severity: Severity;
  /** HOSTNAME field; default the NILVALUE "-". */
  hostname?: string;
}

function sdValue(s: string): string {
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** Printable US-ASCII without spaces, as RFC 5424 header fields must be. */
function headerField(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return clean === "" ? "-" : clean;
}

/** The RFC 5424 message of an alert. */
export function syslogMessage(a: Alert, opts: { app_name: string; hostname?: string }): string {
  const pri = FACILITY * 8 + LEVEL[a.severity];
  const sd = `[${SD_ID} id="${a.id}" rule="${sdValue(a.rule)}" severity="${a.severity}" ` +
    `role="${sdValue(a.role)}" client_addr="${sdValue(a.client_addr ?? "")}" ` +
    `db="${sdValue(a.db ?? "")}" score="${a.score}" ts_from="${formatRfc3339Micros(a.ts_from)}" ` +
    `ts_to="${formatRfc3339Micros(a.ts_to)}"]`;
  const now = new Date().toISOString();
  // Control characters in a reason (they come from statements) would split the record.
  // deno-lint-ignore no-control-regex
  const msg = alertSummary(a).replace(/[\u0000-\u001f\u007f]/g, " ");
  return `<${pri}>1 ${now} ${headerField(opts.hostname ?? "-", 255)} ` +
    `${headerField(opts.app_name, 48)} - ALERT ${sd} \ufeff${msg}`;
}

function hostPort(address: string): { hostname: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) > 65535) {
    throw new TypeError(`Cannot use syslog address ${JSON.stringify(address)}: expected host:port`);
  }
  return { hostname: m[1]!, port: Number(m[2]) };
}

/** The syslog channel. */
export function syslogChannel(opts: SyslogOptions): AlertChannel {
  const { hostname, port } = hostPort(opts.address);
  let udp: dgram.Socket | undefined;
  let tcp: Promise<Deno.TcpConn> | undefined;
  const send = async (a: Alert): Promise<void> => {
    const bytes = encoder.encode(syslogMessage(a, opts));
    if (opts.transport === "udp") {
      udp ??= dgram.createSocket(hostname.includes(":") ? "udp6" : "udp4");
      await new Promise<void>((resolve, reject) =>
        udp!.send(bytes, port, hostname, (e) => e ? reject(e) : resolve())
      );
      return;
    }
    tcp ??= Deno.connect({ hostname, port });
    let conn: Deno.TcpConn;
    try {
      conn = await tcp;
    } catch (e) {
      tcp = undefined;
      throw new Error(`Cannot connect to syslog ${opts.address}: ${(e as Error).message}`);
    }
    const frame = new Uint8Array([...encoder.encode(`${bytes.length} `), ...bytes]);
    try {
      for (let w = 0; w < frame.length;) w += await conn.write(frame.subarray(w));
    } catch (e) {
      // A dropped connection is re-opened for the next alert.
      tcp = undefined;
      conn.close();
      throw new Error(`Cannot send to syslog ${opts.address}: ${(e as Error).message}`);
    }
  };
  return {
    name: "syslog",
    minSeverity: opts.min_severity,
    send,
    async close() {
      udp?.close();
      udp = undefined;
      const c = tcp;
      tcp = undefined;
      if (c) {
        try {
          (await c).close();
        } catch { /* never connected: nothing to close */ }
      }
    },
  };
}
