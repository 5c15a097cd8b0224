/** The export journal: durable lines, a torn last line dropped, runs folded, one holder. */

import { exportedEnd, ExportJournal, JOURNAL_FILE } from "../../../daemon/export/journal.ts";
import { assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const FILE = { key: "k", path: "p", bytes: 1, sha256: "s", md5: "m" };

Deno.test("ExportJournal folds plan, multipart, uploaded and done into runs", async () => {
  await withTempDir(async (dir) => {
    const j = await ExportJournal.open(dir);
    await j.append({
      op: "plan",
      target: "a",
      run: "r1",
      first_seq: 0,
      end_seq: 10,
      files: [FILE],
      ts: 1,
    });
    await j.append({ op: "multipart", target: "a", run: "r1", key: "k", upload_id: "u1" });
    await j.append({
      op: "plan",
      target: "b",
      run: "r1",
      first_seq: 0,
      end_seq: 10,
      files: [FILE],
      ts: 1,
    });
    let [run] = j.runs("a");
    assertEquals([run!.done, run!.multipart.get("k"), run!.uploaded.size], [false, "u1", 0]);
    await j.append({ op: "uploaded", target: "a", run: "r1", key: "k", bytes: 1, etag: "e" });
    await j.append({ op: "done", target: "a", run: "r1", end_seq: 10, ts: 2 });
    [run] = j.runs("a");
    assertEquals([run!.done, run!.multipart.size, run!.uploaded.get("k")], [true, 0, "e"]);
    assertEquals([exportedEnd(j.records, "a"), exportedEnd(j.records, "b")], [10, 0]);
    j.close();
  });
});

Deno.test("ExportJournal.open() drops a line torn by a crash and appends after it", async () => {
  await withTempDir(async (dir) => {
    const j = await ExportJournal.open(dir);
    await j.append({ op: "done", target: "a", run: "r1", end_seq: 5, ts: 1 });
    j.close();
    await Deno.writeTextFile(`${dir}/${JOURNAL_FILE}`, '{"op":"done","tar', { append: true });
    const k = await ExportJournal.open(dir);
    assertEquals(k.records.length, 1);
    await k.append({ op: "done", target: "a", run: "r2", end_seq: 9, ts: 2 });
    k.close();
    const lines = (await Deno.readTextFile(`${dir}/${JOURNAL_FILE}`)).trim().split("\n");
    assertEquals(lines.map((l) => JSON.parse(l).run), ["r1", "r2"]);
  });
});

Deno.test("ExportJournal.open() refuses a second exporter while the first holds it", async () => {
  await withTempDir(async (dir) => {
    const j = await ExportJournal.open(dir);
    try {
      // The lock is per open file description: a child process shows it as another exporter does.
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { ExportJournal } from "${new URL(
            "../../../daemon/export/journal.ts",
            import.meta.url,
          )}";` +
          `try { await ExportJournal.open(${
            JSON.stringify(dir)
          }, { lockTimeoutMs: 200 }); console.log("opened"); }` +
          `catch (e) { console.log(e.message); }`,
        ],
      });
      const out = new TextDecoder().decode((await child.output()).stdout);
      assertEquals(out.includes("another exporter holds"), true, out);
    } finally {
      j.close();
    }
    const again = await ExportJournal.open(dir);
    again.close();
    await assertRejects(() => ExportJournal.open(`${dir}/missing`), Deno.errors.NotFound);
  });
});
