import { qualifiedName, quoteIdent } from "../../../plugins/wal/ident.ts";
import {
  formatSourcePos,
  formatWalPosition,
  parseSourcePos,
  parseWalPosition,
  type WalPosition,
} from "../../../plugins/wal/position.ts";
import { isUnchangedToast } from "../../../plugins/wal/rows.ts";
import { readVigilMessage } from "../../../plugins/wal/vigil_messages.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

Deno.test("formatSourcePos() pads the index so that one transaction's events sort as text", () => {
  assertEquals(formatSourcePos(0x16b3748n, 3), "0/16B3748#0000000003");
  const sorted = [0, 9, 10, 99_999, 1_000_000].map((i) => formatSourcePos(1n, i));
  assertEquals([...sorted].sort(), sorted);
  assertEquals(parseSourcePos("0/16B3748#0000000003"), { commitLsn: 0x16b3748n, index: 3 });
  for (const bad of ["0/1", "0/1#", "0/1#x", "#1", "0/1#1#2"]) {
    assertThrows(() => parseSourcePos(bad), SyntaxError);
  }
});

Deno.test("formatWalPosition() and parseWalPosition() round-trip every shape", () => {
  const shapes: WalPosition[] = [
    { ack: 0n, partial: null, message: null },
    { ack: 0x1547ae8n, partial: null, message: 0x1547b38n },
    { ack: 0x1547ae8n, partial: { commitLsn: 0x1547cb0n, index: 41 }, message: null },
    { ack: 0xabn << 32n, partial: { commitLsn: 0xacn << 32n, index: 0 }, message: 0xabcn << 32n },
    { ack: 0x10n, partial: null, message: 0x20n, system: "7312345678901234567" },
  ];
  for (const p of shapes) assertEquals(parseWalPosition(formatWalPosition(p)), p);
  assertEquals(
    formatWalPosition(shapes[2]!),
    "0/1547AE8 txn=0/1547CB0#0000000041",
  );
  assertEquals(formatWalPosition(shapes[4]!), "0/10 msg=0/20 sys=7312345678901234567");
});

Deno.test("parseWalPosition() refuses anything else, naming it", () => {
  for (
    const bad of [
      ...["", "x", "0/1 ", "0/1 txn=0/2", "0/1 msg=x", "0/1 foo=1", "0/1 msg=0/2 txn=0/3#1"],
      ...["0/1 sys=x", "0/1 sys=1 msg=0/2", "0/1 sys=1 sys=1"],
    ]
  ) {
    assertThrows(() => parseWalPosition(bad), {
      instanceOf: SyntaxError,
      message: "Cannot parse WAL position",
    });
  }
});

Deno.test("qualifiedName() quotes like PostgreSQL's quote_qualified_identifier()", () => {
  assertEquals(qualifiedName("public", "orders"), "public.orders");
  assertEquals(qualifiedName("Sales", "Order Lines"), '"Sales"."Order Lines"');
  assertEquals(qualifiedName("public", "user"), 'public."user"');
  assertEquals(quoteIdent("a.b"), '"a.b"');
  assertEquals(quoteIdent('say "hi"'), '"say ""hi"""');
  assertEquals(quoteIdent("_x1"), "_x1");
  assertEquals(quoteIdent("é"), '"é"');
  assertEquals(quoteIdent("1a"), '"1a"');
  assertEquals(quoteIdent("name"), "name"); // Unreserved keywords stay bare.
});

Deno.test("isUnchangedToast() tells the marker from every text value", () => {
  assert(isUnchangedToast({ unchanged_toast: true }));
  for (const v of ["unchanged_toast", '{"unchanged_toast":true}', null, undefined, {}]) {
    assert(!isUnchangedToast(v), JSON.stringify(v));
  }
});

Deno.test("readVigilMessage() maps DDL records and keeps bad ones raw", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assertEquals(
    readVigilMessage(
      "vigil.ddl",
      enc(
        '{"command_tag":"DROP TABLE","object_type":"table","schema_name":"public",' +
          '"object_identity":"public.t","role":"bob","statement":"DROP TABLE t","extra":1}',
      ),
    ).fields,
    {
      kind: "ddl",
      command: "DROP TABLE",
      object_type: "TABLE",
      schema: "public",
      object: "public.t",
      role: "bob",
      statement: "DROP TABLE t",
    },
  );
  const wrong = readVigilMessage("vigil.ddl", enc('{"role":5}')).fields;
  assertEquals([wrong.raw, wrong.parse_error], [
    '{"role":5}',
    'field "role" of the vigil.ddl message is not a string',
  ]);
  const list = readVigilMessage("vigil.context", enc("[1]"));
  assertEquals([list.context, list.fields.parse_error], [
    null,
    "content is JSON but not an object",
  ]);
  const appUser = readVigilMessage("vigil.context", enc('{"user":"a","app_user":"b"}'));
  assertEquals(appUser.fields.app_user, "b");
  const noUser = readVigilMessage("vigil.context", enc('{"user":7}'));
  assertEquals([noUser.fields.app_user, noUser.context], [undefined, { user: 7 }]);
});

Deno.test("readVigilMessage() keeps a context number past 2^53 exact, as its digits", () => {
  const { fields, context } = readVigilMessage(
    "vigil.context",
    new TextEncoder().encode('{"user": "ada", "order": 12345678901234567890, "share": 0.25}'),
  );
  assertEquals(context, { user: "ada", order: "12345678901234567890", share: 0.25 });
  assertEquals(fields.context, context);
});
