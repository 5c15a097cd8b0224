/**
 * Alerts as e-mail through an SMTP relay (RFC 5321): EHLO, MAIL FROM, RCPT TO for each
 * recipient, DATA with dot-stuffing, QUIT — one connection per alert. Plain TCP without AUTH:
 * meant for the local relay (or smarthost) of the appliance's network, which does TLS onwards.
 */

import type { Alert } from "./alert.ts";
import { type AlertChannel, alertJson, alertSummary } from "./channel.ts";
import type { Severity } from "./config.ts";

/** Options of the SMTP channel. */
export interface SmtpOptions {
  host: string;
  port: number;
  from: string;
  to: string[];
  helo: string;
  min_severity: Severity;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads SMTP replies (possibly multi-line, `250-…` then `250 …`) from a connection. */
class ReplyReader {
  #conn: Deno.Conn;
  #buf = "";

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async reply(): Promise<{ code: number; text: string }> {
    const lines: string[] = [];
    for (;;) {
      let nl = this.#buf.indexOf("\r\n");
      while (nl < 0) {
        const chunk = new Uint8Array(4096);
        const n = await this.#conn.read(chunk);
        if (n === null) throw new Error("connection closed before a reply");
        this.#buf += decoder.decode(chunk.subarray(0, n));
        nl = this.#buf.indexOf("\r\n");
      }
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 2);
      lines.push(line);
      if (!/^\d{3}-/.test(line)) {
        return { code: Number(line.slice(0, 3)), text: lines.join(" | ") };
      }
    }
  }
}

/** A header value as RFC 2047 UTF-8 base64 when it is not plain ASCII. */
function headerText(s: string): string {
  // deno-lint-ignore no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f]/g, " ");
  if (/^[\x20-\x7e]*$/.test(flat)) return flat;
  const b64 = btoa(String.fromCharCode(...encoder.encode(flat)));
  return `=?UTF-8?B?${b64}?=`;
}

function address(a: string, what: string): string {
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(a)) {
    throw new TypeError(`Cannot send mail: ${what} ${JSON.stringify(a)} is not an address`);
  }
  return a;
}

/** The full message of an alert: headers and a text body (the summary, then the JSON). */
export function mailMessage(a: Alert, opts: { from: string; to: string[] }): string {
  const body = `${alertSummary(a)}\r\n\r\n${JSON.stringify(alertJson(a), null, 2)}\r\n`;
  const head = [
    `From: ${opts.from}`,
    `To: ${opts.to.join(", ")}`,
    `Subject: ${headerText(`[Vigil] ${a.severity} ${a.rule} (${a.role || "-"}) #${a.id}`)}`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
  ];
  // Bare CR or LF from a statement must not end a line early; lines starting "." are stuffed.
  const text = `${head.join("\r\n")}\r\n\r\n${body}`.replace(/\r?\n|\r/g, "\r\n");
  return text.split("\r\n").map((l) => (l.startsWith(".") ? `.${l}` : l)).join("\r\n");
}

/** The SMTP channel. */
export function smtpChannel(opts: SmtpOptions): AlertChannel {
  address(opts.from, "from");
  for (const t of opts.to) address(t, "to");
  return {
    name: "smtp",
    minSeverity: opts.min_severity,
    async send(a: Alert) {
      const where = `${opts.host}:${opts.port}`;
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: opts.host, port: opts.port });
      } catch (e) {
        throw new Error(`Cannot mail alert ${a.id} via ${where}: ${(e as Error).message}`);
      }
      const r = new ReplyReader(conn);
      const step = async (cmd: string | null, want: number): Promise<void> => {
        if (cmd !== null) {
          const bytes = encoder.encode(`${cmd}\r\n`);
          for (let w = 0; w < bytes.length;) w += await conn.write(bytes.subarray(w));
        }
        const { code, text } = await r.reply();
        if (code !== want) {
          throw new Error(
            `Cannot mail alert ${a.id} via ${where}: ${cmd ?? "greeting"} got ${text}`,
          );
        }
      };
      try {
        await step(null, 220);
        await step(`EHLO ${opts.helo}`, 250);
        await step(`MAIL FROM:<${opts.from}>`, 250);
        for (const t of opts.to) await step(`RCPT TO:<${t}>`, 250);
        await step("DATA", 354);
        await step(`${mailMessage(a, opts)}\r\n.`, 250);
        await step("QUIT", 221);
      } finally {
        conn.close();
      }
    },
    close: () => Promise.resolve(),
  };
}
