/**
 * A tiny real SMTP server on 127.0.0.1 for the mail channel's tests: it speaks enough of
 * RFC 5321 (greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) to
 * accept messages, and keeps each one with its envelope. It can refuse recipients to test errors.
 *
 * @example
 * await using smtp = await startSmtpServer();
 * // … send to 127.0.0.1:smtp.port …
 * smtp.messages[0].data;
 */

/** One accepted message. */
export interface SmtpMessage {
  helo: string;
  from: string;
  to: string[];
  /** The message as sent, dot-unstuffed, lines joined with CRLF. */
  data: string;
}

/** A running server. */
export interface SmtpServer extends AsyncDisposable {
  port: number;
  messages: SmtpMessage[];
  /** Every command line received, for protocol checks. */
  commands: string[];
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/** Starts the server on a free loopback port. */
export function startSmtpServer(opts: { refuse?: string[] } = {}): Promise<SmtpServer> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const messages: SmtpMessage[] = [];
  const commands: string[] = [];
  const conns = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const s = session(conn, messages, commands, opts.refuse ?? []).catch(() => {})
        .finally(() => {
          conns.delete(conn);
          sessions.delete(s);
        });
      sessions.add(s);
    }
  })().catch(() => {});
  const close = async () => {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed by its session */ }
    }
    await accepting;
    await Promise.allSettled([...sessions]);
  };
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    messages,
    commands,
    close,
    [Symbol.asyncDispose]: close,
  });
}

async function session(
  conn: Deno.Conn,
  messages: SmtpMessage[],
  commands: string[],
  refuse: string[],
): Promise<void> {
  const say = async (line: string) => {
    const b = encoder.encode(`${line}\r\n`);
    for (let w = 0; w < b.length;) w += await conn.write(b.subarray(w));
  };
  await say("220 test.invalid ESMTP ready");
  let helo = "";
  let from: string | null = null;
  let to: string[] = [];
  let inData = false;
  let data: string[] = [];
  const lines = conn.readable.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  try {
    for await (const line of lines) {
      if (inData) {
        if (line === ".") {
          inData = false;
          messages.push({ helo, from: from ?? "", to, data: data.join("\r\n") });
          from = null;
          to = [];
          data = [];
          await say("250 2.0.0 queued");
        } else data.push(line.startsWith(".") ? line.slice(1) : line);
        continue;
      }
      commands.push(line);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO" || verb === "HELO") {
        helo = line.slice(5);
        await say(verb === "EHLO" ? "250-test.invalid\r\n250 8BITMIME" : "250 test.invalid");
      } else if (verb === "MAIL") {
        const m = /^MAIL FROM:<([^>]*)>/i.exec(line);
        if (!m) await say("501 5.5.4 syntax");
        else (from = m[1]!), await say("250 2.1.0 ok");
      } else if (verb === "RCPT") {
        const m = /^RCPT TO:<([^>]+)>/i.exec(line);
        if (from === null) await say("503 5.5.1 MAIL first");
        else if (!m) await say("501 5.5.4 syntax");
        else if (refuse.includes(m[1]!)) await say("550 5.1.1 no such user");
        else to.push(m[1]!), await say("250 2.1.5 ok");
      } else if (verb === "DATA") {
        if (to.length === 0) await say("503 5.5.1 RCPT first");
        else (inData = true), await say("354 end with .");
      } else if (verb === "RSET") {
        (from = null), (to = []), await say("250 ok");
      } else if (verb === "NOOP") await say("250 ok");
      else if (verb === "QUIT") {
        await say("221 bye");
        break;
      } else await say("500 5.5.2 unknown command");
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server's close() */ }
  }
}

function lineSplitter(): TransformStream<string, string> {
  let buf = "";
  return new TransformStream({
    transform(chunk, ctl) {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf("\r\n")) >= 0) {
        ctl.enqueue(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    },
  });
}
