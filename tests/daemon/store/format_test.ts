import { writeBundle } from "../../../daemon/export/bundle.ts";
import { DATA_FORMAT, DataFormatError, FORMAT_FILE } from "../../../daemon/store/format.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { eventLines, runVigil } from "../../support/cli.ts";
import { toFormat1 } from "../../support/format1.ts";
import { refLeaf, refNode, refPath, refProof } from "../../support/merkle_reference.ts";
import { segmentPaths, testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

async function storeWith(dir: string, n: number): Promise<void> {
  const store = await Store.open(dir, NO_TIMER);
  await store.append({ source: "a", events: [...Array(n).keys()].map((i) => testEvent(i)) });
  await store.close();
}

Deno.test("a new data dir records its format; one from before the file gets it on open", async () => {
  await withTempDir(async (dir) => {
    await storeWith(dir, 3);
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), `vigil-data ${DATA_FORMAT}\n`);
    assertEquals((await Deno.stat(`${dir}/${FORMAT_FILE}`)).mode! & 0o777, 0o600);
    // A directory written before FORMAT existed is read as format 1 and moved to format 2.
    await Deno.remove(`${dir}/${FORMAT_FILE}`);
    assertEquals((await Array.fromAsync(readLog(dir))).length, 3);
    const store = await Store.open(dir, NO_TIMER);
    await store.append({ source: "a", events: [testEvent(3)] });
    await store.close();
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), `vigil-data ${DATA_FORMAT}\n`);
    assertEquals((await verifyStore(dir)).events, 4);
  });
});

Deno.test("a data dir of a newer format is refused by writer, readers and verify, untouched", async () => {
  await withTempDir(async (dir) => {
    await storeWith(dir, 2);
    const newer = `vigil-data ${DATA_FORMAT + 1}\n`;
    await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, newer);
    const before = await Deno.readFile(`${dir}/segments/${(await firstSegment(dir))}`);
    const e = await assertRejects(() => Store.open(dir, NO_TIMER), DataFormatError);
    assertMatch(
      e.message,
      new RegExp(
        `is in data format ${DATA_FORMAT + 1}, and this vigil reads format ${DATA_FORMAT} at most`,
      ),
    );
    await assertRejects(() => Array.fromAsync(readLog(dir)), DataFormatError);
    await assertRejects(() => verifyStore(dir), DataFormatError);
    assertEquals(await Deno.readFile(`${dir}/segments/${await firstSegment(dir)}`), before);
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), newer);

    const r = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(1),
    });
    assertEquals(r.code, 3, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertMatch(r.stderr, new RegExp(`^vigil ingest: .* is in data format ${DATA_FORMAT + 1}`));
  });
});

Deno.test("a FORMAT file that is not a format line is named, not guessed at", async () => {
  await withTempDir(async (dir) => {
    await storeWith(dir, 1);
    await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, "<html>\n");
    const e = await assertRejects(() => Store.open(dir, NO_TIMER), DataFormatError);
    assertMatch(
      e.message,
      /FORMAT: not a data format line \(want "vigil-data N", got "<html>\\n"\)/,
    );
  });
});

Deno.test("a data dir of format 1 (no commit records) opens with its events and positions, verifies, and moves to the current format", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { ...NO_TIMER, maxSegmentBytes: 600 });
    for (let i = 0; i < 8; i++) {
      await store.append({ source: "a", events: [testEvent(i)], position: `a${i + 1}` });
      if (i === 3) await store.checkpoint();
    }
    await store.close();
    const jsons = (await Array.fromAsync(readLog(dir))).map((r) => r.json);
    await toFormat1(dir);
    assert((await segmentPaths(dir)).length > 2, "sealed segments and an active one");

    // Readers and verify take it as it is.
    assertEquals((await Array.fromAsync(readLog(dir))).map((r) => r.json), jsons);
    const before = await verifyStore(dir);
    assert(before.ok, before.problem?.text);
    assertEquals(before.events, 8);

    const again = await Store.open(dir, NO_TIMER);
    assertEquals(again.size, 8);
    assertEquals(again.position("a"), "a8");
    await again.append({ source: "a", events: [testEvent(8)], position: "a9" });
    await again.close();
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), `vigil-data ${DATA_FORMAT}\n`);
    const after = await verifyStore(dir);
    assert(after.ok, after.problem?.text);
    assertEquals(after.events, 9);
    assertEquals(
      (await Array.fromAsync(readLog(dir))).map((r) => r.json).slice(0, 8),
      jsons,
      "the format 1 events are read unchanged",
    );
    const reopened = await Store.open(dir, NO_TIMER);
    assertEquals([reopened.size, reopened.position("a")], [9, "a9"]);
    await reopened.close();
  });
});

Deno.test("a data dir of format 2 (every Merkle level on disk) verifies and proves the same before and after the writer moves it to format 3", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await storeWith(dir, 700);
    const leaves = (await Array.fromAsync(readLog(dir)))
      .map((r) => refLeaf(new TextEncoder().encode(r.json)));
    await toFormat2(dir, leaves);
    const v2 = await verifyStore(dir);
    assert(v2.ok, v2.problem?.text);
    const prove = async (): Promise<string> => {
      const r = await runVigil(["prove", "--data", dir, "--seq", "300", "--from-size", "130"]);
      assertEquals(r.code, 0, r.stderr);
      return r.stdout;
    };
    const before = await prove();
    const hexOf = (b: Uint8Array): string =>
      Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const out = JSON.parse(before);
    assertEquals(out.inclusion_proof, refPath(300, leaves).map(hexOf));
    assertEquals(out.consistency.proof, refProof(130, leaves.slice(0, 700)).map(hexOf));
    await writeBundle(dir, `${tmp}/bundle-before`);

    const store = await Store.open(dir, NO_TIMER);
    await store.close();
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), `vigil-data ${DATA_FORMAT}\n`);
    const kept = (await Array.fromAsync(Deno.readDir(`${dir}/merkle`))).map((e) => e.name).sort();
    assertEquals(kept, ["level-06.bin", "level-07.bin", "level-08.bin", "level-09.bin"]);
    const v3 = await verifyStore(dir);
    assert(v3.ok, v3.problem?.text);
    assertEquals(v3.events, 700);
    assertEquals(await prove(), before);
    await writeBundle(dir, `${tmp}/bundle-after`);
    const before2 = await treeOf(`${tmp}/bundle-before`);
    assert(before2.size > 2, "the bundle has files");
    assertEquals(await treeOf(`${tmp}/bundle-after`), before2);
  });
});

/** Every file under `dir`, by relative path, with its bytes (as latin1 text). */
async function treeOf(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) { for (const [k, v] of await treeOf(dir, `${rel}/`)) out.set(k, v); }
    else out.set(rel, new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${rel}`)));
  }
  return new Map([...out].sort(([x], [y]) => x.localeCompare(y)));
}

/** Adds what format 2 also stored: every Merkle level below 6, and its FORMAT line. */
async function toFormat2(dir: string, leaves: Uint8Array[]): Promise<void> {
  let nodes = leaves;
  for (let level = 0; level < 6; level++) {
    const bytes = new Uint8Array(nodes.length * 32);
    nodes.forEach((n, i) => bytes.set(n, i * 32));
    await Deno.writeFile(`${dir}/merkle/level-0${level}.bin`, bytes);
    nodes = Array.from(
      { length: Math.floor(nodes.length / 2) },
      (_, i) => refNode(nodes[2 * i]!, nodes[2 * i + 1]!),
    );
  }
  await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, "vigil-data 2\n");
}

async function firstSegment(dir: string): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/segments`)) names.push(e.name);
  return names.sort()[0]!;
}
