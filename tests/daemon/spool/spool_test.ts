/**
 * The spool's promises against a real store: what `append` acknowledged reaches the store once
 * across any stop (a crash being an open spool simply abandoned, its files as they are), a
 * torn last record is left out, damage in an older file is stored as the source's damage event, files
 * go once stored, nothing unredacted is written, and a refusing store or a full spool is loud.
 */

import type { NewEvent } from "../../../daemon/event/model.ts";
import {
  EventSpool,
  holdsRecords,
  orphanSpools,
  SpoolFullError,
} from "../../../daemon/spool/mod.ts";
import {
  encodeEvents,
  FILE_HEADER,
  putRecord,
  RECORD_HEADER,
  spoolName,
} from "../../../daemon/spool/spool_file.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NAME = "proxy1";

/** A real store and the spools opened over it, as a source's runs would. */
async function withStore(fn: (store: Store, data: string, spoolDir: string) => Promise<void>) {
  await withTempDir(async (dir) => {
    const store = await Store.open(`${dir}/data`, { checkpointIntervalMs: 0 });
    try {
      await fn(store, `${dir}/data`, `${dir}/spool`);
    } finally {
      await store.close().catch(() => {});
    }
  });
}

function open(
  store: Store,
  dir: string,
  extra: Partial<Parameters<typeof EventSpool.open>[0]> = {},
) {
  return EventSpool.open({
    dir,
    name: NAME,
    damagedCommand: "TEST_SPOOL_DAMAGED",
    position: store.position(NAME),
    emit: (b) =>
      store.append({
        source: NAME,
        events: b.events,
        ...(b.position !== undefined ? { position: b.position } : {}),
      }).then(() => {}),
    emitIntervalMs: 1,
    ...extra,
  });
}

async function storedIds(data: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readLog(data)) {
    const e = r.event;
    if (e.source === NAME) out.push(e.source_pos ?? e.command ?? "");
  }
  return out;
}

/** One record of `events` for generation `gen`, as the writer lays it out. */
function encodeRecord(events: NewEvent[], gen: number): Uint8Array {
  const json = encodeEvents(events);
  const out = new Uint8Array(RECORD_HEADER + json.length);
  putRecord(out, 0, json, gen);
  return out;
}

const ev = (i: number, extra: Partial<NewEvent> = {}): NewEvent =>
  testEvent(i, { source: NAME, source_pos: `e${i}`, ...extra });

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("a spool hands every acknowledged record to the store once, across a crash", async () => {
  await withStore(async (store, data, dir) => {
    // The first run's store takes one batch, then the run "crashes": its spool is left as it
    // is, its emits never answered again.
    let hold = true;
    let emits = 0;
    const first = await EventSpool.open({
      dir,
      name: NAME,
      damagedCommand: "TEST_SPOOL_DAMAGED",
      position: undefined,
      emit: async (b) => {
        while (hold) await new Promise((r) => setTimeout(r, 5));
        if (emits++ > 0) return await new Promise<void>(() => {});
        await store.append({ source: NAME, events: b.events, position: b.position! });
      },
      emitIntervalMs: 1,
      batchEvents: 3,
    });
    await Promise.all([1, 2, 3, 4, 5].map((i) => first.append([ev(i)])));
    await first.append([ev(6), ev(7)]);
    hold = false;
    while (emits < 2) await new Promise((r) => setTimeout(r, 5));
    const before = (await storedIds(data)).length;
    assert(before >= 1 && before < 7, `${before} stored before the crash`);
    const second = await open(store, dir);
    await second.append([ev(8)]);
    await second.close();
    const ids = await storedIds(data);
    assertEquals([...ids].sort(), ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"]);
    assertEquals(ids.length, new Set(ids).size);
    assertEquals(await files(dir), ["spare.spool"]);
  });
});

Deno.test("a record torn by a stop is left out; damage in a file another followed is stored as a gap event", async () => {
  await withStore(async (store, data, dir) => {
    // Every record fills its file: each write starts the next one, whose header says where
    // the one before ended.
    const a = await open(store, dir, { fileBytes: 64, emit: () => new Promise(() => {}) });
    for (const i of [1, 2, 3]) await a.append([ev(i)]);
    while ((await files(dir)).length < 4) await new Promise((r) => setTimeout(r, 5));
    assertEquals(await files(dir), [1, 2, 3, 4].map(spoolName));
    // The first file rots in its record; the newest ends in a half-written one.
    const first = `${dir}/${spoolName(1)}`;
    const bytes = await Deno.readFile(first);
    bytes[FILE_HEADER + 20] = bytes[FILE_HEADER + 20]! ^ 0xff;
    await Deno.writeFile(first, bytes);
    const torn = encodeRecord([ev(5)], 4);
    const newest = await Deno.open(`${dir}/${spoolName(4)}`, { write: true });
    newest.seekSync(FILE_HEADER, Deno.SeekMode.Start);
    newest.writeSync(torn.subarray(0, torn.length - 3));
    newest.close();
    // A store that refuses the report: the damaged file stays, so the loss is told later.
    const refusing = await open(store, dir, { emit: () => Promise.reject(new Error("refused")) });
    await assertRejects(() => refusing.done);
    await refusing.close().catch(() => {});
    assert((await files(dir)).includes(spoolName(1)), "the damaged file was retired");
    const c = await open(store, dir);
    await c.close();
    assertEquals(await storedIds(data), [
      `spool-damage-${spoolName(1)}-${FILE_HEADER}`,
      "e2",
      "e3",
    ]);
    const [damage] = await Array.fromAsync(readLog(data));
    const e = damage!.event;
    assertEquals(e.command, "TEST_SPOOL_DAMAGED");
    assertMatch(e.error!, /fails its checksum/);
    assertEquals(await files(dir), ["spare.spool"]);
  });
});

Deno.test("a spool retires each file once stored, reads no stale record of a reused one, writes nothing unredacted", async () => {
  await withStore(async (store, data, dir) => {
    const spool = await open(store, dir, { fileBytes: 2048 });
    const secret = "ALTER ROLE app PASSWORD 'hunter2-secret'";
    for (let i = 0; i < 40; i++) {
      await spool.append([ev(i, { statement: i === 7 ? secret : `SELECT ${i}` })]);
      for (const name of await files(dir)) {
        // A file may be renamed (retired, or reused) between the listing and the read.
        const bytes = await Deno.readFile(`${dir}/${name}`).catch(() => new Uint8Array());
        assert(!new TextDecoder().decode(bytes).includes("hunter2"), `${name} holds the password`);
      }
    }
    // Rotation went through several files, the later ones over retired ones.
    while (spool.unstoredBytes > 0) await new Promise((r) => setTimeout(r, 5));
    await spool.append([ev(40)]);
    while (spool.unstoredBytes > 0) await new Promise((r) => setTimeout(r, 5));
    assert((await files(dir)).length <= 3, `files left: ${await files(dir)}`);
    // A crash now: the next run reads the files as they are, stale records and all.
    const next = await open(store, dir);
    await next.close();
    const ids = await storedIds(data);
    assertEquals(ids.length, 41);
    assertEquals(new Set(ids).size, 41);
    assertEquals(await files(dir), ["spare.spool"]);
  });
});

Deno.test("a full spool refuses; a refusing store ends `done`, and the files keep what is owed for the next run", async () => {
  await withStore(async (store, data, dir) => {
    let refuse = true;
    const spool = await open(store, dir, {
      maxBytes: 4096,
      emit: async (b) => {
        await new Promise((r) => setTimeout(r, 20));
        if (refuse) throw new Error("disk full (the store's)");
        await store.append({ source: NAME, events: b.events, position: b.position! });
      },
    });
    await spool.append([ev(1, { statement: "x".repeat(3000) })]);
    const full = await assertRejects(() => spool.append([ev(2, { statement: "y".repeat(3000) })]));
    assert(full instanceof SpoolFullError, String(full));
    assertMatch(full.message, /store has not taken/);
    assertMatch((await assertRejects(() => spool.done)).message, /disk full/);
    // Appends go on after the refusal: the next run hands them over too.
    await spool.append([ev(3)]);
    assertMatch((await assertRejects(() => spool.close())).message, /disk full/);
    assertEquals((await files(dir)).length, 1);
    refuse = false;
    const next = await open(store, dir);
    await next.close();
    assertEquals(await storedIds(data), ["e1", "e3"]);
  });
});

Deno.test("orphanSpools() names the spools with files of sources no longer configured; holdsRecords() tells a spool with files", async () => {
  await withTempDir(async (dir) => {
    assertEquals(await orphanSpools(`${dir}/none`, []), []);
    for (const name of ["kept", "gone", "idle"]) await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeFile(`${dir}/kept/${spoolName(3)}`, new Uint8Array(16));
    await Deno.writeFile(`${dir}/gone/${spoolName(7)}`, new Uint8Array(16));
    await Deno.writeFile(`${dir}/idle/spare.spool`, new Uint8Array(16));
    assertEquals(await orphanSpools(dir, ["kept"]), ["gone"]);
    assertEquals(await orphanSpools(dir, ["kept", "gone"]), []);
    // A spare alone holds nothing owed: an observe-mode start leaves such a spool closed.
    assertEquals(
      await Promise.all(["kept", "idle", "none"].map((n) => holdsRecords(`${dir}/${n}`))),
      [true, false, false],
    );
  });
});
