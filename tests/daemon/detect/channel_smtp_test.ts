import { join } from "node:path";
import type { Alert } from "../../../daemon/detect/alert.ts";
import { smtpChannel, type SmtpOptions } from "../../../daemon/detect/channel_smtp.ts";
import { detectConfigFromTable } from "../../../daemon/detect/config.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../support/assert.ts";
import { startSmtpRelay } from "../../support/smtp_relay.ts";
import { startSmtpServer } from "../../support/smtp_server.ts";

const PASSWORD = "correct horse ✓ battery";

const alert: Alert = {
  id: 9,
  key: "exfiltration|carol|7",
  rule: "exfiltration",
  severity: "high",
  ts_from: Date.UTC(2026, 0, 7, 11) * 1000,
  ts_to: Date.UTC(2026, 0, 7, 11) * 1000,
  role: "carol",
  score: 1,
  reason: "carol read the sensitive object hr.salaries for the first time",
  features: [],
  seqs: [7],
  count: 1,
};

async function withPasswordFile(fn: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-smtp-secret-" });
  try {
    const file = join(dir, "smtp_password");
    await Deno.writeTextFile(file, `${PASSWORD}\n`, { mode: 0o600 });
    await fn(file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(port: number, more: Partial<SmtpOptions>): SmtpOptions {
  return {
    host: "127.0.0.1",
    port,
    from: "vigil@example.org",
    to: ["soc@example.org"],
    helo: "vigil",
    min_severity: "low",
    ...more,
  };
}

Deno.test("smtpChannel() mails through a real relay over STARTTLS with AUTH PLAIN", async () => {
  await withPasswordFile(async (password_file) => {
    await using relay = await startSmtpRelay({ user: "vigil", password: PASSWORD });
    const ch = smtpChannel(options(relay.port, {
      starttls: true,
      ca_file: relay.caFile,
      username: "vigil",
      password_file,
    }));
    await ch.send(alert);
    const got = await relay.messages();
    assertEquals(got.length, 1);
    assertEquals([got[0]!.tls, got[0]!.login, got[0]!.from], [true, "vigil", "vigil@example.org"]);
    assert(got[0]!.data.includes("Subject: [Vigil] high exfiltration (carol) #9"), got[0]!.data);
  });
});

Deno.test("smtpChannel() falls back to AUTH LOGIN when the relay offers no PLAIN", async () => {
  await withPasswordFile(async (password_file) => {
    await using relay = await startSmtpRelay({
      user: "vigil",
      password: PASSWORD,
      exclude: ["PLAIN"],
    });
    const ch = smtpChannel(options(relay.port, {
      starttls: true,
      ca_file: relay.caFile,
      username: "vigil",
      password_file,
    }));
    await ch.send(alert);
    assertEquals((await relay.messages()).map((m) => m.login), ["vigil"]);
  });
});

Deno.test("smtpChannel() rejects a wrong password, a certificate it cannot verify, and no STARTTLS", async () => {
  await withPasswordFile(async (password_file) => {
    await using relay = await startSmtpRelay({ user: "vigil", password: "another one" });
    const wrong = smtpChannel(options(relay.port, {
      starttls: true,
      ca_file: relay.caFile,
      username: "vigil",
      password_file,
    }));
    const err = await assertRejects(() => wrong.send(alert), { message: /AUTH PLAIN got 535/ });
    // The error names the step, never the credentials.
    assert(
      !err.message.includes("vigil\u0000") && !/AUTH PLAIN [A-Za-z0-9+/=]{8}/.test(err.message),
    );
    // Without the test CA the relay's certificate is not trusted: nothing is sent.
    const untrusted = smtpChannel(options(relay.port, {
      starttls: true,
      username: "vigil",
      password_file,
    }));
    await assertRejects(() => untrusted.send(alert), { message: /TLS failed/ });
    assertEquals(await relay.messages(), []);
  });
  // A relay without STARTTLS is refused when TLS is asked for.
  await using plain = await startSmtpServer();
  const ch = smtpChannel(options(plain.port, { starttls: true }));
  await assertRejects(() => ch.send(alert), { message: /does not offer STARTTLS/ });
  assertEquals(plain.messages, []);
  assert(!plain.commands.some((c) => c.startsWith("AUTH") || c.startsWith("MAIL")));
});

Deno.test("[detect.smtp] refuses credentials without STARTTLS and needs both user and password", () => {
  const smtp = { host: "127.0.0.1", from: "vigil@example.org", to: ["soc@example.org"] };
  assertThrows(
    () => detectConfigFromTable({ smtp: { ...smtp, username: "u", password_file: "p" } }),
    { instanceOf: TypeError, message: /AUTH needs starttls = true/ },
  );
  assertThrows(
    () => detectConfigFromTable({ smtp: { ...smtp, starttls: true, username: "u" } }),
    { instanceOf: TypeError, message: /username and password_file go together/ },
  );
  assertThrows(
    () => detectConfigFromTable({ smtp: { ...smtp, starttls: true, ca_file: "ca.pem" } }),
    { instanceOf: TypeError, message: /absolute path/ },
  );
  const ok = detectConfigFromTable({
    smtp: { ...smtp, port: 587, starttls: true, username: "u", password_file: "smtp_pw" },
  });
  assertEquals(ok.channels.smtp?.starttls, true);
  assertEquals(ok.channels.smtp?.password_file, "smtp_pw");
  assertThrows(
    () =>
      smtpChannel({
        host: "127.0.0.1",
        port: 25,
        from: "a@b.c",
        to: ["d@e.f"],
        helo: "vigil",
        min_severity: "low",
        username: "u",
        password_file: "/nonexistent",
      }),
    { instanceOf: TypeError, message: /without STARTTLS/ },
  );
});
