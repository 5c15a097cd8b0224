import type { NewEvent } from "../../../daemon/event/model.ts";
import { ChangeAssembler, type ChangeBatch } from "../../../plugins/wal/changes.ts";
import { type DecodedPayload, UNCHANGED_TOAST } from "../../../plugins/wal/pgoutput.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import * as pgo from "./_pgoutput_encode.ts";

const T0 = 1_700_000_000_123_456;
const CTX = '{"user":"ada","reason":"refund"}';
const REL = pgo.at("0/100", pgo.relation(7, "public", "t", [["id", true], ["v"], ["big"]]));

/** One transaction: Begin, the relation, `body`, Commit; commit record at `0/<commit>`. */
function txn(commit: number, xid: number, body: Uint8Array[]): DecodedPayload[] {
  const c = `0/${commit.toString(16).toUpperCase()}`;
  const end = `0/${(commit + 0x30).toString(16).toUpperCase()}`;
  return [
    pgo.at(c, pgo.begin(c, T0 + xid, xid)),
    REL,
    ...body.map((b) => pgo.at(c, b)),
    pgo.at(end, pgo.commit(c, end, T0 + xid)),
  ];
}

function inserts(n: number, from = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => pgo.insert(7, [String(from + i), "v", null]));
}

function run(asm: ChangeAssembler, payloads: DecodedPayload[]): ChangeBatch[] {
  const out: ChangeBatch[] = [];
  for (const p of payloads) {
    asm.push(p);
    const b = asm.take();
    if (b) out.push(b);
  }
  return out;
}

const newAsm = (opts: { holdLimit?: number; resume?: string; storeHeartbeats?: boolean } = {}) =>
  new ChangeAssembler({ source: "billing", db: "shop", now: () => 42, ...opts });
const events = (batches: ChangeBatch[]): NewEvent[] => batches.flatMap((b) => b.events);

Deno.test("ChangeAssembler makes one row_change a change with xid, commit time and position", () => {
  const batches = run(newAsm(), txn(0x1000, 5, [pgo.insert(7, ["1", "a", null])]));
  assertEquals(events(batches), [{
    ts: T0 + 5,
    source: "billing",
    source_pos: "0/1000#0000000000",
    kind: "row_change",
    db: "shop",
    xid: 5,
    schema: "public",
    object: "public.t",
    object_type: "TABLE",
    command: "INSERT",
    new_row: { id: "1", v: "a", big: null },
  }]);
  assertEquals(batches.at(-1)!.position, "0/1030");
  assertEquals(batches.at(-1)!.ackLsn, 0x1030n);
});

Deno.test("ChangeAssembler marks unchanged TOAST and keeps only the key of a key-only old row", () => {
  const out = events(run(
    newAsm(),
    txn(0x1000, 5, [
      pgo.update(7, ["2", "b", UNCHANGED_TOAST], { kind: "K", row: ["1", null, null] }),
      pgo.remove(7, "O", ["2", "b", "x"]),
    ]),
  ));
  assertEquals(out.map((e) => [e.old_row, e.new_row]), [
    [{ id: "1" }, { id: "2", v: "b", big: { unchanged_toast: true } }],
    [{ id: "2", v: "b", big: "x" }, undefined],
  ]);
});

Deno.test("ChangeAssembler attaches a context to the changes before and after it", () => {
  const body = [
    ...inserts(2),
    pgo.message(true, "0/1000", "vigil.context", CTX),
    ...inserts(1, 2),
  ];
  const out = events(run(newAsm(), txn(0x1000, 5, body)));
  const ctx = { user: "ada", reason: "refund" };
  assertEquals(out.map((e) => [e.kind, e.command, e.context, e.app_user, e.xid]), [
    ["row_change", "INSERT", ctx, "ada", 5],
    ["row_change", "INSERT", ctx, "ada", 5],
    ["message", "vigil.context", ctx, "ada", 5],
    ["row_change", "INSERT", ctx, "ada", 5],
  ]);
});

Deno.test("ChangeAssembler releases a large transaction early; a late context reaches what follows", () => {
  const asm = newAsm({ holdLimit: 3 });
  const body = [...inserts(5), pgo.message(true, "0/1000", "vigil.context", CTX), ...inserts(2, 5)];
  const payloads = txn(0x1000, 5, body);
  const pending: number[] = [];
  for (const p of payloads) {
    asm.push(p);
    pending.push(asm.pending);
  }
  // Nothing until the fourth event passes the limit, then one at a time.
  assertEquals(pending, [0, 0, 0, 0, 0, 4, 5, 6, 7, 8, 8]);
  const out = asm.take()!.events;
  assertEquals(out.map((e) => e.app_user ?? "-"), ["-", "-", "-", "-", "-", "ada", "ada", "ada"]);
  assertEquals(out[5]!.command, "vigil.context");
});

Deno.test("ChangeAssembler states partial progress in its position and skips it on resume", () => {
  const asm = newAsm({ holdLimit: 2 });
  const payloads = txn(0x2000, 6, inserts(6));
  for (const p of payloads.slice(0, 6)) asm.push(p); // Begin, Relation, four inserts.
  const first = asm.take()!;
  assertEquals(first.events.length, 4);
  assertEquals(first.position, "0/0 txn=0/2000#0000000003");
  assertEquals(first.ackLsn, 0n);
  // "Crash": the server sends the whole transaction again to a new assembler.
  const again = events(run(newAsm({ holdLimit: 2, resume: first.position }), payloads));
  assertEquals(again.map((e) => e.new_row?.id), ["4", "5"]);
  assertEquals(again.map((e) => e.source_pos), ["0/2000#0000000004", "0/2000#0000000005"]);
});

Deno.test("ChangeAssembler skips transactions and messages the store already holds", () => {
  const stream = [
    ...txn(0x1000, 5, inserts(1)),
    pgo.at("0/1100", pgo.message(false, "0/1100", "vigil.heartbeat", "1")),
    ...txn(0x2000, 6, inserts(1, 1)),
    pgo.at("0/2100", pgo.message(false, "0/2100", "vigil.heartbeat", "2")),
  ];
  const all = run(newAsm({ storeHeartbeats: true }), stream);
  assertEquals(all.at(-1)!.position, "0/2030 msg=0/2100");
  const cases: [string, string[]][] = [
    ["0/1030", ["vigil.heartbeat", "INSERT", "vigil.heartbeat"]],
    ["0/1030 msg=0/1100", ["INSERT", "vigil.heartbeat"]],
    ["0/2030", ["vigil.heartbeat"]],
    ["0/2030 msg=0/2100", []],
  ];
  for (const [resume, expected] of cases) {
    const out = events(run(newAsm({ resume, storeHeartbeats: true }), stream))
      .map((e) => e.command);
    assertEquals(out, expected, `resume from ${resume}`);
  }
});

Deno.test("ChangeAssembler stores no heartbeat or foreign message, but moves the position past each", () => {
  const batches = run(newAsm(), [
    ...txn(0x1000, 5, [pgo.message(true, "0/1000", "vigil.heartbeat", "in a transaction")]),
    pgo.at("0/1100", pgo.message(false, "0/1100", "vigil.heartbeat", '{"seq":1}')),
    pgo.at("0/1200", pgo.message(false, "0/1200", "other.tool", "x")),
  ]);
  assertEquals(batches.map((b) => [b.events.map((e) => e.command), b.position]), [
    [["vigil.heartbeat"], "0/1030"], // Only the source's own kind, outside transactions, is skipped.
    [[], "0/1030 msg=0/1100"],
    [[], "0/1030 msg=0/1200"],
  ]);
  const resumed = run(newAsm({ resume: "0/1030 msg=0/1200" }), [
    pgo.at("0/1100", pgo.message(false, "0/1100", "vigil.heartbeat", '{"seq":1}')),
  ]);
  assertEquals(resumed, [], "what the store holds moves nothing again");
});

Deno.test("ChangeAssembler.reset() after a lost connection loses and repeats nothing", () => {
  const asm = newAsm({ holdLimit: 1 });
  const payloads = txn(0x3000, 7, inserts(4));
  for (const p of payloads.slice(0, 4)) asm.push(p); // Two inserts: released.
  const before = asm.take()!.events;
  asm.reset();
  const after = events(run(asm, payloads));
  assertEquals([...before, ...after].map((e) => e.new_row?.id), ["0", "1", "2", "3"]);
});

Deno.test("ChangeAssembler emits a position for a transaction without events", () => {
  const batches = run(newAsm(), txn(0x4000, 8, []));
  assertEquals(batches.map((b) => [b.events.length, b.position]), [[0, "0/4030"]]);
});

Deno.test("ChangeAssembler keeps what it cannot read as raw events with parse_error", () => {
  const out = events(run(newAsm(), [
    ...txn(0x5000, 9, [
      pgo.insert(99, ["1"]),
      pgo.insert(7, ["1"]),
      new Uint8Array([0x5a, 1]),
      pgo.message(true, "0/5000", "vigil.ddl", "{not json"),
      pgo.message(true, "0/5000", "other.tool", "x"),
    ]),
    pgo.at("0/6000", new Uint8Array([0x5a])),
  ]));
  assertEquals(out.map((e) => [e.kind, e.command, e.raw, e.source_pos]), [
    ["row_change", "INSERT", "\\x49000000634e0001740000000131", "0/5000#0000000000"],
    ["row_change", "INSERT", "\\x49000000074e0001740000000131", "0/5000#0000000001"],
    ["system", undefined, "\\x5a01", "0/5000#0000000002"],
    ["ddl", undefined, "{not json", "0/5000#0000000003"],
    ["system", undefined, "\\x5a", "0/6000"],
  ]);
  assert(out.every((e) => e.parse_error !== undefined));
  assertEquals(
    out[0]!.parse_error,
    "Cannot read pgoutput message at LSN 0/5000: relation 99 has not been described by a Relation message",
  );
  assert(out[1]!.parse_error!.includes("has 1 columns, but its Relation message"));
});

Deno.test("ChangeAssembler refuses a stream out of order", () => {
  const asm = newAsm();
  assertThrows(() => asm.push(pgo.at("0/1", pgo.insert(7, ["1"]))), {
    instanceOf: SyntaxError,
    message: "Cannot assemble pgoutput stream at LSN 0/1: insert outside a transaction",
  });
  asm.push(pgo.at("0/1", pgo.begin("0/10", T0, 1)));
  assertThrows(() => asm.push(pgo.at("0/2", pgo.begin("0/10", T0, 1))), SyntaxError);
  assertThrows(() => asm.push(pgo.at("0/3", pgo.commit("0/11", "0/20", T0))), {
    instanceOf: SyntaxError,
    message: "Commit of 0/10 ends at another",
  });
});

Deno.test("ChangeAssembler bounds memory in a million-row transaction", () => {
  const asm = newAsm();
  asm.push(pgo.at("0/A0000", pgo.begin("0/F000000", T0, 10)));
  asm.push(REL);
  const row = pgo.at("0/A0000", pgo.insert(7, ["1", "v", null]));
  let most = 0, total = 0, lastPos = "";
  for (let i = 0; i < 1_000_000; i++) {
    asm.push(row);
    if (asm.pending >= 5000) {
      const batch = asm.take()!;
      total += batch.events.length;
      lastPos = batch.events.at(-1)!.source_pos!;
    }
    most = Math.max(most, asm.pending);
  }
  asm.push(pgo.at("0/F000030", pgo.commit("0/F000000", "0/F000030", T0)));
  const last = asm.take()!;
  assertEquals([total + last.events.length, last.position], [1_000_000, "0/F000030"]);
  assertEquals(lastPos, "0/F000000#0000999999");
  assert(most <= 5000, `at most one batch pending, saw ${most}`);
});

Deno.test("ChangeAssembler keeps a change it cannot read as a row_change of its table, raw", () => {
  const bytes = pgo.insert(7, ["1", "X", null]);
  bytes[bytes.lastIndexOf(0x58)] = 0xff; // the value "X" becomes a byte that is no UTF-8
  const out = events(run(
    newAsm(),
    txn(0x1000, 5, [pgo.message(true, "0/1000", "vigil.context", CTX), bytes]),
  ));
  const [, change] = out;
  assertEquals(
    [change?.kind, change?.schema, change?.object, change?.object_type, change?.command],
    ["row_change", "public", "public.t", "TABLE", "INSERT"],
  );
  assertEquals([change?.source_pos, change?.xid], ["0/1000#0000000001", 5]);
  assertEquals(change?.context, JSON.parse(CTX), "its transaction's context, as any change");
  assertEquals(
    change?.raw,
    `\\x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`,
  );
  assert(change?.parse_error?.includes("not UTF-8"), change?.parse_error);
  assertEquals(change?.new_row, undefined);
  // A change of a relation never described still says its command; other messages, nothing.
  const unknown = pgo.insert(8, ["1", "X", null]);
  unknown[unknown.lastIndexOf(0x58)] = 0xff;
  const [lost] = events(run(newAsm(), txn(0x2000, 6, [unknown])));
  assertEquals([lost?.kind, lost?.command, lost?.object], ["row_change", "INSERT", undefined]);
});
