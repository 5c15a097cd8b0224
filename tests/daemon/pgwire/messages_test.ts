/**
 * Frontend message bytes, ErrorResponse parsing and md5 passwords, checked byte by byte
 * against the protocol documentation, plus the DSN parser.
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import {
  copyDone,
  queryMessage,
  saslInitialResponse,
  sslRequest,
  standbyStatusUpdate,
  startupMessage,
} from "../../../daemon/pgwire/encode.ts";
import { describeNotice, parseNotice, PgError } from "../../../daemon/pgwire/errors.ts";
import { md5Password } from "../../../daemon/pgwire/auth.ts";
import { parseDsn, redactDsn } from "../../../daemon/pgwire/dsn.ts";
import { pgNowMicros } from "../../../plugins/wal/replication_time.ts";

const text = (s: string): number[] => [...new TextEncoder().encode(s)];

Deno.test("startupMessage() writes length, protocol 3.0 and NUL-terminated pairs", () => {
  const bytes = startupMessage({ user: "u", replication: "database" });
  const expected = [0, 3, 0, 0, ...text("user\0u\0replication\0database\0"), 0];
  assertEquals([...bytes], [0, 0, 0, expected.length + 4, ...expected]);
  assertThrows(() => startupMessage({ user: "a\0b" }), TypeError);
});

Deno.test("sslRequest(), queryMessage(), copyDone() and SASL messages have the documented bytes", () => {
  assertEquals([...sslRequest()], [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  assertEquals([...queryMessage("SELECT 1")], [0x51, 0, 0, 0, 13, ...text("SELECT 1\0")]);
  assertEquals([...copyDone()], [0x63, 0, 0, 0, 4]);
  const sasl = saslInitialResponse("SCRAM-SHA-256", "n,,n=,r=abc");
  assertEquals([...sasl], [
    0x70,
    0,
    0,
    0,
    4 + 14 + 4 + 11,
    ...text("SCRAM-SHA-256\0"),
    0,
    0,
    0,
    11,
    ...text("n,,n=,r=abc"),
  ]);
});

Deno.test("standbyStatusUpdate() is CopyData 'r' with three positions and a 2000-epoch clock", () => {
  const bytes = standbyStatusUpdate({ write: 1n, flush: 0x16b3748n, apply: 3n }, 42n, true);
  const view = new DataView(bytes.buffer);
  assertEquals(bytes[0], 0x64); // 'd'
  assertEquals(view.getInt32(1), bytes.length - 1);
  assertEquals(bytes[5], 0x72); // 'r'
  assertEquals(view.getBigUint64(6), 1n);
  assertEquals(view.getBigUint64(14), 0x16b3748n);
  assertEquals(view.getBigUint64(22), 3n);
  assertEquals(view.getBigInt64(30), 42n);
  assertEquals(bytes[38], 1);
  assertEquals(bytes.length, 39);
  // 2000-01-01T00:00:00.001Z is 1000 µs after PostgreSQL's epoch.
  assertEquals(pgNowMicros(Date.parse("2000-01-01T00:00:00.001Z")), 1000n);
});

Deno.test("parseNotice() reads every field; PgError carries them with context", () => {
  const body = new Uint8Array([
    ...text('SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "x"\0'),
    ...text("Dsome detail\0Hsome hint\0Rauth_failed\0"),
    0,
  ]);
  const notice = parseNotice(body);
  assertEquals(notice.severity, "FATAL");
  assertEquals(notice.code, "28P01");
  assertEquals(notice.detail, "some detail");
  assertEquals(notice.hint, "some hint");
  assertEquals(notice.fields.R, "auth_failed");
  const error = new PgError("auth", "Cannot log in", notice, { server: "db1:5432" });
  assertEquals(error.stage, "auth");
  assertEquals(error.server, "db1:5432");
  assertEquals(error.code, "28P01");
  assertEquals(error.serverMessage, 'password authentication failed for user "x"');
  assertEquals(
    error.message,
    'Cannot log in: FATAL 28P01 password authentication failed for user "x" ' +
      "(detail: some detail; hint: some hint)",
  );
  assertEquals(describeNotice(parseNotice(new Uint8Array([0]))), "ERROR XX000 (no message)");
  assertThrows(() => parseNotice(new Uint8Array([0x4d, 0x61])), SyntaxError);
});

Deno.test("md5Password() hashes as PostgreSQL expects", () => {
  assertEquals(
    md5Password("postgres", "secret", new Uint8Array([1, 2, 3, 4])),
    "md5bb41a296aab6baccb36ff243a562abff",
  );
  assertThrows(() => md5Password("u", "p", new Uint8Array(3)), SyntaxError);
});

Deno.test("parseDsn() decodes user, password, host, port, database and parameters", () => {
  const config = parseDsn(
    "postgresql://vi%40gil:p%3Ass%2Fw%40rd@db1.example:6543/bil%20ling" +
      "?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=vigil%20wal" +
      "&connect_timeout=2.5",
  );
  assertEquals(config, {
    host: "db1.example",
    port: 6543,
    user: "vi@gil",
    password: "p:ss/w@rd",
    database: "bil ling",
    sslmode: "verify-full",
    sslrootcert: "/etc/ca.pem",
    applicationName: "vigil wal",
    connectTimeoutMs: 2500,
  });
  assertEquals(parseDsn("postgres://u@[::1]/d").host, "::1");
  const defaults = parseDsn("postgres://vigil@db1");
  assertEquals(defaults.port, 5432);
  assertEquals(defaults.database, "vigil");
  assertEquals(defaults.sslmode, "disable");
  assertEquals(defaults.connectTimeoutMs, 10_000);
  assert(!("password" in defaults));
  const socket = parseDsn("postgres://u@/d?host=%2Fvar%2Frun%2Fpostgresql&port=5433");
  assertEquals([socket.host, socket.port], ["/var/run/postgresql", 5433]);
});

Deno.test("parseDsn() names what is wrong and never shows the password", () => {
  const cases: [string, RegExp][] = [
    ["mysql://u@h/d", /Not a postgres/],
    ["postgres://h/d", /No user/],
    ["postgres://u:pw@h:99999/d", /Bad port/],
    ["postgres://u:pw@h/d?sslmode=prefer", /Unsupported sslmode "prefer"/],
    ["postgres://u:pw@h/d?sslcert=x", /Unknown connection parameter "sslcert"/],
    ["postgres://u:pw@h/d?connect_timeout=0", /Bad connect_timeout/],
    ["postgres://u:pw@h/%E0%A4%A", /Bad percent-encoding in the database/],
    ["postgres://u:pw@h1,h2/d", /Several hosts/],
  ];
  for (const [dsn, message] of cases) {
    const error = assertThrows(() => parseDsn(dsn), { instanceOf: TypeError, message });
    assert(!error.message.includes(":pw@"), `password shown: ${error.message}`);
  }
  assertEquals(redactDsn("postgres://u:secret@h/d"), "postgres://u:***@h/d");
  assertEquals(
    redactDsn("postgres://u@h/d?password=secret&x=1"),
    "postgres://u@h/d?password=***&x=1",
  );
});
