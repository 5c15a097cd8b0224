import dgram from "node:dgram";
import type { Alert } from "../../../daemon/detect/alert.ts";
import { smtpChannel } from "../../../daemon/detect/channel_smtp.ts";
import { syslogChannel } from "../../../daemon/detect/channel_syslog.ts";
import { webhookChannel } from "../../../daemon/detect/channel_webhook.ts";
import { defaultDetectConfig } from "../../../daemon/detect/config.ts";
import { DetectEngine } from "../../../daemon/detect/engine.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { startSmtpServer } from "../../support/smtp_server.ts";
import { GAP_COMMANDS } from "../../../plugins/mod.ts";

const alert: Alert = {
  id: 7,
  key: "privilege_escalation|bob|42",
  rule: "privilege_escalation",
  severity: "critical",
  ts_from: Date.UTC(2026, 0, 7, 11, 20) * 1000,
  ts_to: Date.UTC(2026, 0, 7, 11, 20) * 1000,
  role: "bob",
  client_addr: "10.0.0.1",
  db: "shop",
  score: 1,
  // Attacker-controlled text: quotes, brackets, a newline and a leading dot on a line.
  reason: 'ALTER ROLE "x]" gives SUPERUSER\n.hidden line — ünïcode',
  features: [{ name: "role_changes", value: 1 }],
  seqs: [42],
  count: 1,
};

Deno.test("syslogChannel() sends an RFC 5424 datagram over UDP", async () => {
  const server = dgram.createSocket("udp4");
  const got = new Promise<string>((resolve) =>
    server.on("message", (m) => resolve(m.toString("utf8")))
  );
  await new Promise<void>((r) => server.bind(0, "127.0.0.1", r));
  const port = server.address().port;
  const ch = syslogChannel({
    address: `127.0.0.1:${port}`,
    transport: "udp",
    app_name: "vigil",
    min_severity: "low",
  });
  try {
    await ch.send(alert);
    const msg = await got;
    // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG; PRI = 13·8 + 2.
    assertMatch(
      msg,
      /^<106>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z - vigil - ALERT \[vigil@32473 /,
    );
    assert(msg.includes('id="7" rule="privilege_escalation" severity="critical" role="bob"'), msg);
    assert(msg.includes("\ufeffVigil alert #7 critical"), msg);
    assert(!msg.includes("\n"), "a newline split the record");
  } finally {
    await ch.close();
    server.close();
  }
});

Deno.test("syslogChannel() frames messages with octet counts over TCP", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received = (async () => {
    const conn = await listener.accept();
    let text = "";
    const buf = new Uint8Array(65536);
    const dec = new TextDecoder();
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
    }
    conn.close();
    return text;
  })();
  const ch = syslogChannel({
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    transport: "tcp",
    app_name: "vigil",
    min_severity: "low",
  });
  try {
    await ch.send(alert);
    await ch.send({ ...alert, id: 8, severity: "medium", role: 'x"]y' });
    await ch.close();
    const text = await received;
    const bytes = new TextEncoder().encode(text);
    const frames: string[] = [];
    for (let o = 0; o < bytes.length;) {
      const sp = bytes.indexOf(0x20, o);
      const len = Number(new TextDecoder().decode(bytes.subarray(o, sp)));
      frames.push(new TextDecoder().decode(bytes.subarray(sp + 1, sp + 1 + len)));
      o = sp + 1 + len;
    }
    assertEquals(frames.length, 2);
    assertMatch(frames[0]!, /^<106>1 /);
    assertMatch(frames[1]!, /^<108>1 .* id="8" /);
    // SD-PARAM values escape '"', '\\' and ']' (RFC 5424 §6.3.3).
    assert(frames[1]!.includes('role="x\\"\\]y"'), frames[1]);
  } finally {
    listener.close();
  }
});

Deno.test("webhookChannel() POSTs JSON and retries 5xx with doubling backoff", async () => {
  const bodies: unknown[] = [];
  let calls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    calls++;
    bodies.push(await req.json());
    return new Response(null, { status: calls < 3 ? 503 : 204 });
  });
  const waits: number[] = [];
  const ch = webhookChannel({
    url: `http://127.0.0.1:${server.addr.port}/hook?token=secret`,
    retries: 4,
    backoff_ms: 100,
    min_severity: "low",
    sleep: (ms) => (waits.push(ms), Promise.resolve()),
  });
  try {
    await ch.send(alert);
    assertEquals(calls, 3);
    assertEquals(waits, [100, 200]);
    const body = bodies[2] as { alert: Record<string, unknown> };
    assertEquals(body.alert.id, 7);
    assertEquals(body.alert.rule, "privilege_escalation");
    assertEquals(body.alert.ts_from, "2026-01-07T11:20:00.000000Z");
    assertEquals(body.alert.seqs, [42]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhookChannel() gives up on 4xx at once and after the retries on 5xx", async () => {
  let calls = 0;
  let status = 400;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    calls++;
    await req.body?.cancel();
    return new Response("no", { status });
  });
  const ch = webhookChannel({
    url: `http://127.0.0.1:${server.addr.port}/hook?token=secret`,
    retries: 2,
    backoff_ms: 1,
    min_severity: "low",
  });
  try {
    const e = await assertRejects(() => ch.send(alert), { message: /HTTP 400/ });
    assert(!e.message.includes("secret"), "the token leaked into the message");
    assertEquals(calls, 1);
    status = 500;
    calls = 0;
    await assertRejects(() => ch.send(alert), { message: /HTTP 500/ });
    assertEquals(calls, 3);
  } finally {
    await server.shutdown();
  }
});

Deno.test("smtpChannel() delivers a mail to a real SMTP server", async () => {
  await using smtp = await startSmtpServer();
  const ch = smtpChannel({
    host: "127.0.0.1",
    port: smtp.port,
    from: "vigil@example.org",
    to: ["soc@example.org", "dba@example.org"],
    helo: "vigil",
    min_severity: "high",
  });
  await ch.send(alert);
  assertEquals(smtp.messages.length, 1);
  const m = smtp.messages[0]!;
  assertEquals(m.from, "vigil@example.org");
  assertEquals(m.to, ["soc@example.org", "dba@example.org"]);
  assertEquals(m.helo, "vigil");
  assertMatch(m.data, /^From: vigil@example.org\r\nTo: soc@example.org, dba@example.org\r\n/);
  assert(m.data.includes("Subject: [Vigil] critical privilege_escalation (bob) #7\r\n"), m.data);
  // The reason's ".hidden" line arrived whole: dot-stuffing kept it from ending the DATA.
  assert(m.data.includes(".hidden line"), m.data);
  assert(m.data.includes('"seqs": [\r\n    42\r\n  ]'), m.data);
  assertEquals(smtp.commands.at(-1), "QUIT");
});

Deno.test("smtpChannel() rejects with the server's reply when a recipient is refused", async () => {
  await using smtp = await startSmtpServer({ refuse: ["nobody@example.org"] });
  const ch = smtpChannel({
    host: "127.0.0.1",
    port: smtp.port,
    from: "vigil@example.org",
    to: ["nobody@example.org"],
    helo: "vigil",
    min_severity: "low",
  });
  await assertRejects(() => ch.send(alert), { message: /RCPT TO:<nobody@example.org> got 550/ });
  assertEquals(smtp.messages, []);
});

Deno.test("DetectEngine sends each new incident once to channels that want its severity", async () => {
  const got: { alert: { id: number; rule: string; count: number } }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push(await req.json());
    return new Response(null, { status: 200 });
  });
  const cfg = defaultDetectConfig();
  const hook = webhookChannel({
    url: `http://127.0.0.1:${server.addr.port}/`,
    retries: 0,
    backoff_ms: 1,
    min_severity: "high",
  });
  const engine = new DetectEngine(cfg, { channels: [hook], gapCommands: GAP_COMMANDS });
  const t = Date.UTC(2026, 0, 5, 3) * 1000;
  try {
    // Twelve failed logins: one burst incident (high); and a gap alarm (critical).
    engine.feed(Array.from({ length: 12 }, (_, i) => ({
      seq: i,
      event: {
        seq: i,
        ts: t + i * 1e6,
        ingest_ts: 0,
        source: "log",
        kind: "auth" as const,
        role: "postgres",
        client_addr: "203.0.113.5",
        sqlstate: "28P01",
      },
    })));
    engine.feed([{
      seq: 12,
      event: {
        seq: 12,
        ts: t + 20e6,
        ingest_ts: 0,
        source: "wal",
        kind: "system",
        command: "WAL_GAP",
      },
    }]);
    await engine.drain();
    assertEquals(got.map((g) => g.alert.rule).sort(), ["audit_tampering", "failed_login_burst"]);
    assertEquals(engine.list().find((a) => a.rule === "failed_login_burst")?.count, 8);
  } finally {
    engine.alerts.close();
    await server.shutdown();
  }
});
