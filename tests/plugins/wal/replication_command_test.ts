/**
 * Text of replication commands: identifiers and literals quoted so that no slot or publication
 * name can break out of its place, and bad slot names refused before anything is sent.
 */
import { assertEquals, assertThrows } from "../../support/assert.ts";
import {
  checkSlotName,
  createSlotCommand,
  dropSlotCommand,
  quoteIdent,
  quoteLiteral,
  slotInfoQuery,
  startReplicationCommand,
} from "../../../plugins/wal/replication_command.ts";

Deno.test("startReplicationCommand() quotes the slot, the LSN and each publication", () => {
  assertEquals(
    startReplicationCommand({
      slot: "vigil_billing",
      startLsn: 0x16_b374d848n,
      publications: ["pub", `we"ird's`],
      protoVersion: 1,
      messages: true,
    }),
    `START_REPLICATION SLOT "vigil_billing" LOGICAL 16/B374D848 ("proto_version" '1', ` +
      `"publication_names" '"pub","we""ird''s"', "messages" 'true')`,
  );
  assertEquals(
    startReplicationCommand({
      slot: "s",
      startLsn: 0n,
      publications: ["p"],
      protoVersion: 2,
      messages: false,
    }),
    `START_REPLICATION SLOT "s" LOGICAL 0/0 ("proto_version" '2', "publication_names" '"p"', ` +
      `"messages" 'false')`,
  );
});

Deno.test("startReplicationCommand() refuses a bad proto_version or no publication", () => {
  const base = { slot: "s", startLsn: 0n, publications: ["p"], protoVersion: 1, messages: true };
  assertThrows(() => startReplicationCommand({ ...base, protoVersion: 5 }), TypeError);
  assertThrows(() => startReplicationCommand({ ...base, protoVersion: 1.5 }), TypeError);
  assertThrows(() => startReplicationCommand({ ...base, publications: [] }), TypeError);
  assertThrows(() => startReplicationCommand({ ...base, publications: [""] }), TypeError);
});

Deno.test("checkSlotName() accepts what PostgreSQL accepts and nothing else", () => {
  assertEquals(checkSlotName("vigil_db1_2"), "vigil_db1_2");
  assertEquals(checkSlotName("a".repeat(63)), "a".repeat(63));
  for (const bad of ["", "Vigil", "a-b", "a b", 'a"b', "a".repeat(64), "é"]) {
    assertThrows(() => checkSlotName(bad), { instanceOf: TypeError, message: /slot name/ });
  }
});

Deno.test("slot commands are permanent, pgoutput and quoted", () => {
  assertEquals(
    createSlotCommand("s1"),
    `CREATE_REPLICATION_SLOT "s1" LOGICAL pgoutput NOEXPORT_SNAPSHOT`,
  );
  assertEquals(dropSlotCommand("s1", false), `DROP_REPLICATION_SLOT "s1"`);
  assertEquals(dropSlotCommand("s1", true), `DROP_REPLICATION_SLOT "s1" WAIT`);
  assertThrows(() => createSlotCommand("S1"), TypeError);
  assertEquals(slotInfoQuery("s1").endsWith("WHERE slot_name = 's1'"), true);
});

Deno.test("quoteIdent() and quoteLiteral() double their quote and refuse NUL", () => {
  assertEquals(quoteIdent(`a"b`), `"a""b"`);
  assertEquals(quoteLiteral(`it's \\ fine`), `'it''s \\ fine'`);
  assertThrows(() => quoteIdent("a\0b"), TypeError);
  assertThrows(() => quoteLiteral("a\0b"), TypeError);
});
