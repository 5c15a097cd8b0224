import { parseAuditMessage, parseParams, schemaOf } from "../../../plugins/pgaudit/audit.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { auditMessage } from "./_build.ts";

Deno.test("parseAuditMessage() reads every field, the statement byte for byte", () => {
  const statement = `select * from t where a = ',' and b = '"q"'\n\t-- ünï 😀\r\n`;
  assertEquals(parseAuditMessage(auditMessage(statement)), {
    auditType: "SESSION",
    statementId: 1,
    substatementId: 1,
    class: "READ",
    command: "SELECT",
    statement,
    params: [],
  });
  const object = parseAuditMessage(
    `AUDIT: OBJECT,16,2,READ,SELECT,TABLE,"public.""we,ird""",select 1,<not logged>,3`,
  );
  assertEquals(object, {
    auditType: "OBJECT",
    statementId: 16,
    substatementId: 2,
    class: "READ",
    command: "SELECT",
    objectType: "TABLE",
    object: 'public."we,ird"',
    statement: "select 1",
    rows: 3,
  });
});

Deno.test("parseAuditMessage() reads parameters: CSV inside the field, empty as NULL", () => {
  const params = ['he said "hi", ok', null, "line1\nline2", "<none>", "😀"];
  const entry = parseAuditMessage(auditMessage("select $1, $2, $3, $4, $5", params));
  assertEquals(entry.params, params);
  assertEquals(parseParams(""), [null]);
  assertEquals(parseParams(",x,"), [null, "x", null]);
  assertEquals(parseParams("<none>"), []);
  assertEquals(parseParams("<not logged>"), undefined);
});

Deno.test("parseAuditMessage() leaves out statements pgAudit did not log", () => {
  const once = parseAuditMessage(
    "AUDIT: SESSION,2,2,WRITE,INSERT,TABLE,public.t,<previously logged>,<previously logged>",
  );
  assertEquals([once.statement, once.params], [undefined, undefined]);
  const off = parseAuditMessage("AUDIT: SESSION,2,1,MISC,SET,,,<not logged>,<not logged>");
  assertEquals([off.statement, off.params], [undefined, undefined]);
});

Deno.test("parseAuditMessage() refuses what pgAudit does not write", () => {
  for (
    const bad of [
      "AUDIT: SESSION,1,1,READ,SELECT,,,select 1",
      "AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>,1,2",
      "AUDIT: SESSIONS,1,1,READ,SELECT,,,select 1,<none>",
      "AUDIT: SESSION,x,1,READ,SELECT,,,select 1,<none>",
      "AUDIT: SESSION,1,1,read,SELECT,,,select 1,<none>",
      'AUDIT: SESSION,1,1,READ,SELECT,,,"select 1,<none>',
      'AUDIT: SESSION,1,1,READ,SELECT,,,"select"1,<none>',
      'AUDIT: SESSION,1,1,READ,SELECT,,,select "1",<none>',
      "AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>,many",
      'AUDIT: SESSION,1,1,READ,SELECT,,,select 1,"""a"',
      "LOG: SESSION,1,1,READ,SELECT,,,select 1,<none>",
    ]
  ) {
    const err = thrown(() => parseAuditMessage(bad));
    assert(err instanceof SyntaxError, `${JSON.stringify(bad)}: ${err}`);
  }
});

Deno.test("schemaOf() unquotes the schema of a qualified name", () => {
  assertEquals(schemaOf("public.t"), "public");
  assertEquals(schemaOf('"My ""Schema"""."T.x"'), 'My "Schema"');
  assertEquals(schemaOf('"a.b"'), undefined);
  assertEquals(schemaOf("t"), undefined);
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
