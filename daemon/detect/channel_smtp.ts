/**
 * Alerts as e-mail through an SMTP relay (RFC 5321): EHLO, STARTTLS (RFC 3207) when configured,
 * AUTH PLAIN or LOGIN (RFC 4954) when a user is, MAIL FROM, RCPT TO for each recipient, DATA with
 * dot-stuffing, QUIT — one connection per alert. With `starttls` the relay must offer STARTTLS
 * and its certificate must verify (against `ca_file`, else the system's roots); credentials are
 * never sent over a connection that is not TLS, and never appear in an error.
 */

import type { Alert } from "./alert.ts";
import { type AlertChannel, alertJson, alertSummary } from "./channel.ts";
import type { Severity } from "./config.ts";
import { readSecret } from "../config/secret.ts";

/** Options of the SMTP channel. */
export interface SmtpOptions {
  host: string;
  port: number;
  from: string;
  to: string[];
  helo: string;
  min_severity: Severity;
  starttls?: boolean;
  /** PEM CA certificates for the relay's certificate. */
  ca_file?: string;
  username?: string;
  /** Absolute path or `$CREDENTIALS_DIRECTORY` name of the password (daemon/config/secret.ts). */
  password_file?: string;
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

  async reply(): Promise<{ code: number; text: string; lines: string[] }> {
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
        return { code: Number(line.slice(0, 3)), text: lines.join(" | "), lines };
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

/** Base64 of a string's UTF-8 bytes. */
function b64(s: string): string {
  let bin = "";
  for (const b of encoder.encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The extensions an EHLO reply lists, upper-cased: `STARTTLS`, `AUTH PLAIN LOGIN`, … */
function extensions(lines: string[]): string[] {
  return lines.slice(1).map((l) => l.slice(4).trim().toUpperCase());
}

/** The AUTH mechanism to use of those offered: PLAIN, else LOGIN; null when neither is. */
function mechanism(exts: string[]): "PLAIN" | "LOGIN" | null {
  const auth = exts.find((e) => e.startsWith("AUTH ") || e.startsWith("AUTH="));
  const offered = auth === undefined ? [] : auth.slice(5).split(/\s+/);
  return offered.includes("PLAIN") ? "PLAIN" : offered.includes("LOGIN") ? "LOGIN" : null;
}

/**
 * The SMTP channel. Throws `TypeError` at once for bad addresses, credentials without STARTTLS,
 * or a CA or password file that cannot be read.
 */
export function smtpChannel(opts: SmtpOptions): AlertChannel {
  address(opts.from, "from");
  for (const t of opts.to) address(t, "to");
  const tls = opts.starttls === true;
  if (opts.username !== undefined && !tls) {
    throw new TypeError(
      "Cannot mail alerts: AUTH without STARTTLS would send the password in clear",
    );
  }
  let caCerts: string[] | undefined;
  if (opts.ca_file !== undefined) {
    try {
      caCerts = [Deno.readTextFileSync(opts.ca_file)];
    } catch (e) {
      throw new TypeError(`Cannot read the SMTP CA file ${opts.ca_file}: ${(e as Error).message}`);
    }
  }
  // Read once now so that a missing password stops the start, and again for each mail so that
  // a rotated password is used without a restart.
  if (opts.password_file !== undefined) readSecret(opts.password_file);
  return {
    name: "smtp",
    minSeverity: opts.min_severity,
    async send(a: Alert) {
      const where = `${opts.host}:${opts.port}`;
      const fail = (why: string) => new Error(`Cannot mail alert ${a.id} via ${where}: ${why}`);
      let conn: Deno.Conn;
      let tcp: Deno.TcpConn;
      try {
        conn = tcp = await Deno.connect({ hostname: opts.host, port: opts.port });
      } catch (e) {
        throw fail((e as Error).message);
      }
      let r = new ReplyReader(conn);
      let secure = false;
      /** Sends a command (`shown` in errors instead, for credentials) and checks the reply. */
      const step = async (
        cmd: string | null,
        want: number,
        shown: string | null = cmd,
      ): Promise<string[]> => {
        if (cmd !== null) {
          const bytes = encoder.encode(`${cmd}\r\n`);
          for (let w = 0; w < bytes.length;) w += await conn.write(bytes.subarray(w));
        }
        const { code, text, lines } = await r.reply();
        if (code !== want) throw fail(`${shown ?? "greeting"} got ${text}`);
        return lines;
      };
      try {
        await step(null, 220);
        let exts = extensions(await step(`EHLO ${opts.helo}`, 250));
        if (tls) {
          if (!exts.includes("STARTTLS")) throw fail("the relay does not offer STARTTLS");
          await step("STARTTLS", 220);
          try {
            conn = await Deno.startTls(tcp, {
              hostname: opts.host,
              ...(caCerts === undefined ? {} : { caCerts }),
            });
            r = new ReplyReader(conn);
            secure = true;
            // The handshake happens on first use; the EHLO after it surfaces a bad certificate.
            exts = extensions(await step(`EHLO ${opts.helo}`, 250));
          } catch (e) {
            if ((e as Error).message.startsWith("Cannot mail")) throw e;
            throw fail(`TLS failed: ${(e as Error).message}`);
          }
        }
        if (opts.username !== undefined && opts.password_file !== undefined) {
          if (!secure) throw fail("refusing to send credentials without TLS");
          const user = opts.username;
          const pass = readSecret(opts.password_file);
          const mech = mechanism(exts);
          if (mech === "PLAIN") {
            await step(`AUTH PLAIN ${b64(`\u0000${user}\u0000${pass}`)}`, 235, "AUTH PLAIN");
          } else if (mech === "LOGIN") {
            await step("AUTH LOGIN", 334);
            await step(b64(user), 334, "AUTH LOGIN user");
            await step(b64(pass), 235, "AUTH LOGIN password");
          } else {
            throw fail("the relay offers neither AUTH PLAIN nor AUTH LOGIN");
          }
        }
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
