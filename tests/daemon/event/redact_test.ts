/**
 * Redaction of secrets before storage: role passwords in every literal form, connection
 * strings, user mappings, URIs, in statements, errors, parameters and raw text (also raw bytes
 * kept as hex); configured rules; and hostile inputs that must neither leak nor take long.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import {
  compileRedaction,
  REDACTED,
  redactEvent,
  redactText,
} from "../../../daemon/event/redact.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const rules = compileRedaction();
const r = (text: string): string => redactText(text, rules);

Deno.test("redactText() removes role passwords in every SQL literal form", () => {
  const cases: [string, string][] = [
    [
      "CREATE ROLE a LOGIN PASSWORD 'se''cret' VALID UNTIL 'infinity'",
      "CREATE ROLE a LOGIN PASSWORD <REDACTED> VALID UNTIL 'infinity'",
    ],
    [
      "create user a with encrypted password 'x'",
      "create user a with encrypted password <REDACTED>",
    ],
    ["ALTER ROLE a PASSWORD E'it\\'s'' \\\\ fine' LOGIN", "ALTER ROLE a PASSWORD <REDACTED> LOGIN"],
    ["ALTER ROLE a PASSWORD U&'d\\0061ta'", "ALTER ROLE a PASSWORD <REDACTED>"],
    ["CREATE ROLE a PASSWORD $$x'y$$ LOGIN", "CREATE ROLE a PASSWORD <REDACTED> LOGIN"],
    ["CREATE ROLE a PASSWORD $pw$a$$b$pw$ LOGIN", "CREATE ROLE a PASSWORD <REDACTED> LOGIN"],
    [
      "ALTER ROLE a PASSWORD /* why */ -- note\n 'x'",
      "ALTER ROLE a PASSWORD /* why */ -- note\n <REDACTED>",
    ],
    [
      "ALTER USER a PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy'",
      "ALTER USER a PASSWORD <REDACTED>",
    ],
    [
      "ALTER ROLE a PASSWORD 'md5a3556571e93b0d20722ba62be61e8c2d'",
      "ALTER ROLE a PASSWORD <REDACTED>",
    ],
    ["ALTER ROLE a PASSWORD NULL", "ALTER ROLE a PASSWORD NULL"],
    ["SET password_encryption = 'scram-sha-256'", "SET password_encryption = 'scram-sha-256'"],
  ];
  for (const [input, want] of cases) assertEquals(r(input), want, input);
});

Deno.test("redactText() removes passwords of connection strings, user mappings and URIs", () => {
  const cases: [string, string][] = [
    [
      "SELECT dblink_connect('c', 'host=db password=s3cret dbname=x')",
      "SELECT dblink_connect('c', 'host=db password=<REDACTED> dbname=x')",
    ],
    [
      "SELECT dblink('password=''a b'' host=h', 'SELECT 1')",
      "SELECT dblink('password=<REDACTED> host=h', 'SELECT 1')",
    ],
    ["host=h password = 'quoted \\' value' user=u", "host=h password = <REDACTED> user=u"],
    [
      "CREATE USER MAPPING FOR bob SERVER fdw OPTIONS (user 'bob', password 'pw')",
      "CREATE USER MAPPING FOR bob SERVER fdw OPTIONS (user 'bob', password <REDACTED>)",
    ],
    [
      "ALTER USER MAPPING FOR bob SERVER fdw OPTIONS (SET password 'new')",
      "ALTER USER MAPPING FOR bob SERVER fdw OPTIONS (SET password <REDACTED>)",
    ],
    [
      "COPY t FROM PROGRAM 'PGPASSWORD=pw psql -h x'",
      "COPY t FROM PROGRAM 'PGPASSWORD=<REDACTED> psql -h x'",
    ],
    [
      "SELECT dblink('postgresql://app:pw@db:5432/x', 'q')",
      "SELECT dblink('postgresql://app:<REDACTED>@db:5432/x', 'q')",
    ],
    ["postgres://host:5432/db", "postgres://host:5432/db"],
  ];
  for (const [input, want] of cases) assertEquals(r(input), want, input);
});

Deno.test("redactText() redacts an unterminated secret to the end rather than leak it", () => {
  assertEquals(r("ALTER ROLE a PASSWORD 'never closed"), `ALTER ROLE a PASSWORD ${REDACTED}`);
  assertEquals(r("ALTER ROLE a PASSWORD $q$never closed"), `ALTER ROLE a PASSWORD ${REDACTED}`);
  assertEquals(r("dblink('password=''open"), `dblink('password=${REDACTED}`);
});

Deno.test("redactText() finishes on hostile repetitions that a backtracking or rescanning rule would not", () => {
  const hostile = [
    "password /*" + "password ".repeat(100_000),
    "postgres://a:".repeat(100_000),
    "password=''".repeat(100_000),
    "PASSWORD $a$".repeat(100_000),
    "E'\\".repeat(100_000),
  ];
  for (const text of hostile) {
    // Work counted, not time: each rule must finish, and the output never grows past the input
    // plus one marker per secret.
    const out = r(text);
    assert(out.length <= text.length + REDACTED.length * 100_001, "bounded output");
  }
});

Deno.test("redactEvent() covers statement, error, parameters and raw text, and says so", () => {
  const ev: NewEvent = {
    ts: 0,
    source: "t",
    kind: "session",
    statement: "ALTER ROLE a PASSWORD 'x'",
    error: "syntax error in CREATE ROLE b PASSWORD 'y' x",
    params: ["host=h password=z", null, "plain"],
    raw: "2026-…,\"ALTER ROLE a PASSWORD 'w'\"",
  };
  assert(redactEvent(ev, rules));
  assertEquals(ev.statement, `ALTER ROLE a PASSWORD ${REDACTED}`);
  assertEquals(ev.error, `syntax error in CREATE ROLE b PASSWORD ${REDACTED} x`);
  assertEquals(ev.params, [`host=h password=${REDACTED}`, null, "plain"]);
  assertEquals(ev.raw, `2026-…,"ALTER ROLE a PASSWORD ${REDACTED}"`);
  assertEquals(ev.redacted, true);
  const clean: NewEvent = { ts: 0, source: "t", kind: "session", statement: "SELECT 1" };
  assert(!redactEvent(clean, rules));
  assertEquals(clean.redacted, undefined);
});

Deno.test("redactEvent() redacts raw bytes kept as hex, byte for byte around the secret", () => {
  const hex = (b: Uint8Array): string =>
    "\\x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const raw = hex(
    new Uint8Array([0x78, 0xc3, ...new TextEncoder().encode(" PASSWORD 'pw' "), 0xff]),
  );
  const ev: NewEvent = { ts: 0, source: "t", kind: "system", raw };
  assert(redactEvent(ev, rules));
  assertEquals(
    ev.raw,
    hex(new Uint8Array([0x78, 0xc3, ...new TextEncoder().encode(` PASSWORD ${REDACTED} `), 0xff])),
  );
});

Deno.test("compileRedaction() adds configured rules, can drop the defaults, and refuses bad ones", () => {
  const mine = compileRedaction({ patterns: ["api_key=(?<secret>\\w+)", "\\b\\d{16}\\b"] });
  assertEquals(
    redactText("x api_key=abc card 4111111111111111 PASSWORD 'p'", mine),
    `x api_key=${REDACTED} card ${REDACTED} PASSWORD ${REDACTED}`,
  );
  const only = compileRedaction({ defaults: false, patterns: ["secret"] });
  assertEquals(redactText("a SECRET and PASSWORD 'p'", only), `a ${REDACTED} and PASSWORD 'p'`);
  assertThrows(() => compileRedaction({ patterns: ["ok", "(unclosed"] }), {
    instanceOf: TypeError,
    message: "redact[1]",
  });
  assertThrows(() => compileRedaction({ patterns: ["x*"] }), {
    instanceOf: TypeError,
    message: "empty string",
  });
});
