import { formatLsn, parseLsn } from "../../../plugins/wal/lsn.ts";
import {
  type DecodedPayload,
  decodePayload,
  decodePgOutput,
  PgOutputDecoderStream,
  type TupleData,
  UNCHANGED_TOAST,
} from "../../../plugins/wal/pgoutput.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import * as pgo from "./_pgoutput_encode.ts";

const AT = 0x16b3748n;
const decode = (data: Uint8Array) => decodePgOutput(data, AT);
const PG_EPOCH_US = 946_684_800_000_000;

Deno.test("formatLsn() writes upper-case hex halves without leading zeros, as PostgreSQL", () => {
  assertEquals(formatLsn(0x16b3748n), "0/16B3748");
  assertEquals(formatLsn(0n), "0/0");
  assertEquals(formatLsn(0x1_0000_0000n), "1/0");
  assertEquals(formatLsn(0xffff_ffff_ffff_ffffn), "FFFFFFFF/FFFFFFFF");
  assertThrows(() => formatLsn(-1n), RangeError);
  assertThrows(() => formatLsn(1n << 64n), RangeError);
});

Deno.test("parseLsn() reads what formatLsn() writes and what pg_lsn accepts", () => {
  for (const lsn of [0n, 1n, 0x16b3748n, 0xabc_0000_0001n, 0xffff_ffff_ffff_ffffn]) {
    assertEquals(parseLsn(formatLsn(lsn)), lsn);
  }
  assertEquals(parseLsn("0/16b3748"), 0x16b3748n);
  assertEquals(parseLsn("00000000/016B3748"), 0x16b3748n);
  for (const bad of ["", "16B3748", "0/", "/1", "0/123456789", "0/12G", " 0/1", "0/1 "]) {
    assertThrows(() => parseLsn(bad), { instanceOf: SyntaxError, message: "Cannot parse LSN" });
  }
});

Deno.test("decodePgOutput() reads Begin and Commit with exact µs times on the Unix epoch", () => {
  const us = 1_709_251_199_999_999; // 2024-02-29T23:59:59.999999Z
  assertEquals(decode(pgo.begin("0/1529A00", us, 728)), {
    tag: "begin",
    finalLsn: 0x1529a00n,
    commitTime: us,
    xid: 728,
  });
  assertEquals(decode(pgo.commit("0/1529A00", "0/1529A30", PG_EPOCH_US)), {
    tag: "commit",
    flags: 0,
    commitLsn: 0x1529a00n,
    endLsn: 0x1529a30n,
    commitTime: PG_EPOCH_US,
  });
  // Before 2000 PostgreSQL's count is negative; 1970 is exactly zero.
  assertEquals((decode(pgo.begin("0/1", 0, 1)) as { commitTime: number }).commitTime, 0);
  assertEquals((decode(pgo.begin("0/1", -1, 1)) as { commitTime: number }).commitTime, -1);
});

Deno.test("decodePgOutput() reads a Relation, restoring pg_catalog from the empty namespace", () => {
  const msg = decode(pgo.relation(16391, "", "t", [["id", true], ["note"]], "f"));
  assertEquals(msg, {
    tag: "relation",
    oid: 16391,
    namespace: "pg_catalog",
    name: "t",
    replicaIdentity: "f",
    columns: [
      { key: true, name: "id", typeOid: 25, typmod: -1 },
      { key: false, name: "note", typeOid: 25, typmod: -1 },
    ],
  });
});

Deno.test("decodePgOutput() keeps text, NULL and unchanged TOAST apart in tuples", () => {
  const row: TupleData = ["1", null, UNCHANGED_TOAST, "", "\uFEFFbom", "é\n\0x"];
  assertEquals(decode(pgo.insert(7, row)), { tag: "insert", relation: 7, newTuple: row });
  assertEquals(decode(pgo.update(7, ["2"], { kind: "K", row: ["1"] })), {
    tag: "update",
    relation: 7,
    oldKind: "key",
    oldTuple: ["1"],
    newTuple: ["2"],
  });
  assertEquals(decode(pgo.update(7, ["2"])), {
    tag: "update",
    relation: 7,
    oldKind: null,
    oldTuple: null,
    newTuple: ["2"],
  });
  assertEquals(decode(pgo.remove(7, "O", ["1", "x"])), {
    tag: "delete",
    relation: 7,
    oldKind: "old",
    oldTuple: ["1", "x"],
  });
});

Deno.test("decodePgOutput() reads Truncate options, Message, Origin and Type", () => {
  assertEquals(decode(pgo.truncate([1, 2], 3)), {
    tag: "truncate",
    cascade: true,
    restartIdentity: true,
    relations: [1, 2],
  });
  assertEquals(decode(pgo.truncate([9], 0)), {
    tag: "truncate",
    cascade: false,
    restartIdentity: false,
    relations: [9],
  });
  const content = new Uint8Array([0xff, 0, 1]);
  assertEquals(decode(pgo.message(false, "0/10", "vigil.x", content)), {
    tag: "message",
    transactional: false,
    lsn: 0x10n,
    prefix: "vigil.x",
    content,
  });
  const origin = new pgo.Bytes().tag("O").u64(5n).cstring("node_a").done();
  assertEquals(decode(origin), { tag: "origin", commitLsn: 5n, name: "node_a" });
  const type = new pgo.Bytes().tag("Y").u32(16386).cstring("public").cstring("mood").done();
  assertEquals(decode(type), { tag: "type", oid: 16386, namespace: "public", name: "mood" });
});

Deno.test("decodePgOutput() names an unknown tag and the LSN", () => {
  assertThrows(() => decode(new Uint8Array([0x5a, 1, 2])), {
    instanceOf: SyntaxError,
    message: 'Cannot decode pgoutput message at LSN 0/16B3748: unknown tag "Z"',
  });
  assertThrows(() => decode(new Uint8Array([0])), { instanceOf: SyntaxError, message: "0x0" });
  assertThrows(() => decode(new Uint8Array([])), { instanceOf: SyntaxError, message: "ends" });
});

Deno.test("decodePgOutput() refuses streaming messages and binary values nobody asked for", () => {
  for (const tag of ["S", "E", "c", "A"]) {
    assertThrows(() => decode(new pgo.Bytes().tag(tag).u32(1).done()), {
      instanceOf: SyntaxError,
      message: "streaming was not requested",
    });
  }
  const binary = new pgo.Bytes().tag("I").u32(1).tag("N").u16(1).tag("b").u32(1).u8(0).done();
  assertThrows(() => decode(binary), { instanceOf: SyntaxError, message: "binary" });
});

Deno.test("decodePgOutput() refuses truncated, padded and inconsistent messages", () => {
  const good = pgo.insert(7, ["hello"]);
  for (let n = 0; n < good.length; n++) {
    assertThrows(() => decode(good.subarray(0, n)), SyntaxError);
  }
  const padded = new Uint8Array([...good, 0]);
  assertThrows(() => decode(padded), { instanceOf: SyntaxError, message: "1 bytes left over" });
  const negative = new pgo.Bytes().tag("I").u32(1).tag("N").u16(1).tag("t").u32(0xfffffffe)
    .done();
  assertThrows(() => decode(negative), { instanceOf: SyntaxError, message: "negative length -2" });
  const noNew = new pgo.Bytes().tag("I").u32(1).tag("X").u16(0).done();
  assertThrows(() => decode(noNew), { instanceOf: SyntaxError, message: 'expected "N"' });
  const badKind = new pgo.Bytes().tag("D").u32(1).tag("N").u16(0).done();
  assertThrows(() => decode(badKind), { instanceOf: SyntaxError, message: '"K" or "O"' });
  const huge = new pgo.Bytes().tag("T").u32(0x7fffffff).u8(0).done();
  assertThrows(() => decode(huge), { instanceOf: SyntaxError, message: "cannot fit" });
  const notUtf8 = new pgo.Bytes().tag("I").u32(1).tag("N").u16(1).tag("t").u32(1).u8(0xff)
    .done();
  assertThrows(() => decode(notUtf8), { instanceOf: SyntaxError, message: "not UTF-8" });
  const farTime = new pgo.Bytes().tag("B").u64(1n).u64(0x7fff_ffff_ffff_ffffn).u32(1).done();
  assertThrows(() => decode(farTime), { instanceOf: SyntaxError, message: "out of range" });
});

Deno.test("decodePayload() returns the error of an undecodable payload instead of throwing", () => {
  const data = new Uint8Array([0x5a]);
  const out = decodePayload({ lsn: AT, data });
  assertEquals([out.message, out.data, out.lsn], [null, data, AT]);
  assertEquals(
    out.error?.message,
    'Cannot decode pgoutput message at LSN 0/16B3748: unknown tag "Z"',
  );
});

Deno.test("PgOutputDecoderStream decodes payloads in order and passes bad ones through", async () => {
  const payloads = [
    { lsn: 1n, data: pgo.begin("0/5", 0, 9) },
    { lsn: 2n, data: new Uint8Array([0x5a]) },
    { lsn: 3n, data: pgo.commit("0/5", "0/6", 0) },
  ];
  const out: DecodedPayload[] = [];
  await ReadableStream.from(payloads).pipeThrough(new PgOutputDecoderStream()).pipeTo(
    new WritableStream({ write: (d) => void out.push(d) }),
  );
  assertEquals(out.map((d) => [d.lsn, d.message?.tag ?? null, d.error?.name ?? null]), [
    [1n, "begin", null],
    [2n, null, "SyntaxError"],
    [3n, "commit", null],
  ]);
});
