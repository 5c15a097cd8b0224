import { DataFormatError, FORMAT_FILE } from "../../../daemon/store/format.ts";
import { readLog } from "../../../daemon/store/log_reader.ts";
import { Store } from "../../../daemon/store/store.ts";
import { verifyStore } from "../../../daemon/store/verify.ts";
import { assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { eventLines, runVigil } from "../../support/cli.ts";
import { testEvent, withTempDir } from "../../support/store.ts";

const NO_TIMER = { checkpointIntervalMs: 0, hashWorker: false };

async function storeWith(dir: string, n: number): Promise<void> {
  const store = await Store.open(dir, NO_TIMER);
  await store.append({ source: "a", events: [...Array(n).keys()].map((i) => testEvent(i)) });
  await store.close();
}

Deno.test("a new data dir records its format; one from before the file gets it on open", async () => {
  await withTempDir(async (dir) => {
    await storeWith(dir, 3);
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), "vigil-data 1\n");
    assertEquals((await Deno.stat(`${dir}/${FORMAT_FILE}`)).mode! & 0o777, 0o600);
    // A directory written before FORMAT existed has the same layout: it is adopted as format 1.
    await Deno.remove(`${dir}/${FORMAT_FILE}`);
    assertEquals((await Array.fromAsync(readLog(dir))).length, 3);
    const store = await Store.open(dir, NO_TIMER);
    await store.append({ source: "a", events: [testEvent(3)] });
    await store.close();
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), "vigil-data 1\n");
    assertEquals((await verifyStore(dir)).events, 4);
  });
});

Deno.test("a data dir of a newer format is refused by writer, readers and verify, untouched", async () => {
  await withTempDir(async (dir) => {
    await storeWith(dir, 2);
    await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, "vigil-data 2\n");
    const before = await Deno.readFile(`${dir}/segments/${(await firstSegment(dir))}`);
    const e = await assertRejects(() => Store.open(dir, NO_TIMER), DataFormatError);
    assertMatch(e.message, /is in data format 2, and this vigil reads format 1 at most/);
    await assertRejects(() => Array.fromAsync(readLog(dir)), DataFormatError);
    await assertRejects(() => verifyStore(dir), DataFormatError);
    assertEquals(await Deno.readFile(`${dir}/segments/${await firstSegment(dir)}`), before);
    assertEquals(await Deno.readTextFile(`${dir}/${FORMAT_FILE}`), "vigil-data 2\n");

    const r = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(1),
    });
    assertEquals(r.code, 3, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertMatch(r.stderr, /^vigil ingest: .* is in data format 2/);
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

async function firstSegment(dir: string): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/segments`)) names.push(e.name);
  return names.sort()[0]!;
}
