/**
 * The tailer on log files the tests write and rotate themselves: rename rotation (also to a
 * name the glob does not match), `log_truncate_on_rotation`, copytruncate, short files whose
 * fingerprint grows, records cut off at the end of a file (held while the file is current,
 * given up on as a bad record only after a rotated-away file has been idle for the grace
 * period), `current_logfiles`, restarts from an encoded position, and the alarm for a file that
 * goes before it was read.
 */

import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { append, auditRows, statementsOf, tailHarness } from "./_tail_harness.ts";

Deno.test("Tailer reads a renamed file on from its offset and the new file from 0", async () => {
  await withTempDir(async (dir) => {
    const h = tailHarness(`${dir}/pg*.csv`);
    await append(`${dir}/pg.csv`, auditRows("a", 0, 30));
    await h.poll();
    await append(`${dir}/pg.csv`, auditRows("a", 30, 40));
    await Deno.rename(`${dir}/pg.csv`, `${dir}/pg-1.csv`);
    await append(`${dir}/pg.csv`, auditRows("b", 0, 20));
    await h.poll();
    assertEquals(h.statements(), [...statementsOf("a", 0, 40), ...statementsOf("b", 0, 20)]);
    h.tailer.close();
  });
});

Deno.test("Tailer reads a file renamed out of the glob to its end through the open handle", async () => {
  await withTempDir(async (dir) => {
    const h = tailHarness(`${dir}/*.csv`, { graceMs: 500 });
    await append(`${dir}/pg.csv`, auditRows("a", 0, 10));
    await h.poll();
    await Deno.rename(`${dir}/pg.csv`, `${dir}/pg.csv.1`); // logrotate's name: not matched
    await append(`${dir}/pg.csv.1`, auditRows("a", 10, 15)); // the writer still had it open
    await append(`${dir}/pg.csv`, auditRows("b", 0, 5));
    await h.poll();
    assertEquals(h.statements(), [...statementsOf("a", 0, 15), ...statementsOf("b", 0, 5)]);
    assertEquals(h.tailer.activeCount, 2, "the renamed file stays open during the grace period");
    h.clock.now += 600;
    await h.poll(4);
    assertEquals(h.tailer.activeCount, 1, "then it is left");
    assertEquals(h.gone.length, 0, "it was read to its end: no alarm");
    h.tailer.close();
  });
});

Deno.test("Tailer reads a file truncated on rotation with new content as a new file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pg.csv`;
    const h = tailHarness(`${dir}/*.csv`);
    await append(path, auditRows("a", 0, 50));
    await h.poll();
    const before = h.seen[0]!.hash;
    // log_truncate_on_rotation: the same name, truncated, then longer than before.
    await Deno.writeTextFile(path, auditRows("b", 0, 80));
    await h.poll(4);
    assertEquals(h.statements(), [...statementsOf("a", 0, 50), ...statementsOf("b", 0, 80)]);
    assert(h.seen.at(-1)!.hash !== before, "a new fingerprint");
    assertEquals(h.gone.length, 0, "the old content had been read to its end");
    h.tailer.close();
  });
});

Deno.test("Tailer reads on in the copy after copytruncate and the truncated original from 0", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pg.csv`;
    const h = tailHarness(`${dir}/pg.csv*`);
    await append(path, auditRows("a", 0, 20));
    await h.poll();
    await append(path, auditRows("a", 20, 35)); // written, not yet read
    await Deno.copyFile(path, `${path}.1`);
    await Deno.truncate(path, 0);
    await append(path, auditRows("b", 0, 10)); // O_APPEND writer: from the new start
    await h.poll(4);
    assertEquals(h.statements(), [...statementsOf("a", 0, 35), ...statementsOf("b", 0, 10)]);
    assertEquals(h.seen.slice(20, 35).map((s) => s.file), Array(15).fill(`${path}.1`));
    h.tailer.close();
  });
});

Deno.test("Tailer notices a file truncated and regrown past its offset between two polls", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pg.csv`;
    const h = tailHarness(`${dir}/*.csv`);
    await append(path, auditRows("a", 0, 5));
    await h.poll();
    await Deno.writeTextFile(path, auditRows("b", 0, 40)); // longer than the offset reached
    await h.poll(4);
    assertEquals(h.statements(), [...statementsOf("a", 0, 5), ...statementsOf("b", 0, 40)]);
    h.tailer.close();
  });
});

Deno.test("Tailer holds a record cut off at the end of the current file until its end comes", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pg.csv`;
    const h = tailHarness(`${dir}/*.csv`, { graceMs: 100 });
    const rows = auditRows("a", 0, 3);
    const cut = rows.length - 20;
    await append(path, rows.slice(0, cut));
    await h.poll();
    h.clock.now += 10_000; // the file is current: no amount of waiting gives it up
    await h.poll();
    assertEquals(h.statements(), statementsOf("a", 0, 2));
    await append(path, rows.slice(cut));
    await h.poll();
    assertEquals(h.statements(), statementsOf("a", 0, 3));
    assertEquals(h.seen.at(-1)!.offset, rows.length);
    h.tailer.close();
  });
});

Deno.test("Tailer gives up a cut-off last record of a rotated-away file only after the grace period", async () => {
  await withTempDir(async (dir) => {
    const h = tailHarness(`${dir}/pg*.csv`, { graceMs: 5000 });
    const rows = auditRows("a", 0, 3);
    await append(`${dir}/pg.csv`, rows.slice(0, rows.length - 20));
    await h.poll();
    await Deno.rename(`${dir}/pg.csv`, `${dir}/pg-1.csv`);
    await append(`${dir}/pg.csv`, auditRows("b", 0, 2));
    await h.poll();
    h.clock.now += 4000;
    await h.poll();
    assertEquals(h.statements(), [...statementsOf("a", 0, 2), ...statementsOf("b", 0, 2)]);
    h.clock.now += 2000;
    await h.poll();
    const last = h.seen.at(-1)!;
    assert(last.bad, "the cut-off record comes out bad");
    assertEquals(last.what, `BAD: ${rows.slice((rows.length / 3) * 2, rows.length - 20)}`);
    assertEquals(last.offset, rows.length - 20);
    h.tailer.close();
  });
});

Deno.test("Tailer leaves a file once current_logfiles names another, after the grace period", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/log`);
    const current = `${dir}/current_logfiles`;
    const h = tailHarness(`${dir}/log/*.csv`, { currentLogfiles: current, graceMs: 100 });
    const rows = auditRows("a", 0, 2);
    // Names alone would say b.csv is newer; current_logfiles says a.csv is still current.
    await append(`${dir}/log/a.csv`, rows.slice(0, -10));
    await append(`${dir}/log/b.csv`, auditRows("b", 0, 1));
    await Deno.writeTextFile(current, "stderr log/a.log\ncsvlog log/a.csv\n");
    await h.poll();
    h.clock.now += 1000;
    await h.poll();
    assertEquals(h.seen.filter((s) => s.bad).length, 0, "the current file's record is awaited");
    await Deno.writeTextFile(current, "csvlog log/b.csv\n");
    h.clock.now += 1000;
    await h.poll();
    assertEquals(h.seen.filter((s) => s.bad).length, 1, "rotated away and idle: given up on");
    h.tailer.close();
  });
});

Deno.test("Tailer resumes from an encoded position across several files without a duplicate", async () => {
  await withTempDir(async (dir) => {
    const first = tailHarness(`${dir}/pg*.csv`);
    await append(`${dir}/pg.csv`, auditRows("a", 0, 25));
    await first.poll();
    await Deno.rename(`${dir}/pg.csv`, `${dir}/pg-1.csv`);
    await append(`${dir}/pg.csv`, auditRows("b", 0, 5));
    await first.poll();
    const position = first.position();
    first.tailer.close();
    // While stopped: both files grow, one more rotation, and a short file appears.
    await append(`${dir}/pg-1.csv`, auditRows("a", 25, 30));
    await append(`${dir}/pg.csv`, auditRows("b", 5, 12));
    await Deno.rename(`${dir}/pg.csv`, `${dir}/pg-2.csv`);
    await append(`${dir}/pg.csv`, auditRows("c", 0, 1));
    const second = tailHarness(`${dir}/pg*.csv`, { position });
    await second.poll();
    assertEquals(
      second.statements().sort(),
      [
        ...statementsOf("a", 25, 30),
        ...statementsOf("b", 5, 12),
        ...statementsOf("c", 0, 1),
      ].sort(),
    );
    second.tailer.close();
  });
});

Deno.test("Tailer knows a short file again after it grew past the fingerprint's length", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pg.csv`;
    const first = tailHarness(`${dir}/*.csv`);
    await append(path, auditRows("a", 0, 1)); // well under 1 KiB
    await first.poll();
    const short = JSON.parse(first.position()).files[0];
    assert(short.n < 1024, `a short fingerprint (${short.n} bytes)`);
    first.tailer.close();
    await append(path, auditRows("a", 1, 40));
    const second = tailHarness(`${dir}/*.csv`, { position: first.position() });
    await second.poll();
    assertEquals(second.statements(), statementsOf("a", 1, 40));
    const grown = JSON.parse(second.position()).files[0];
    assertEquals(grown.n, 1024, "the fingerprint grew with the file");
    second.tailer.close();
    const third = tailHarness(`${dir}/*.csv`, { position: second.position() });
    await third.poll();
    assertEquals(third.statements(), [], "nothing read twice");
    third.tailer.close();
  });
});

Deno.test("Tailer alarms when a file goes before it was read to its end", async () => {
  await withTempDir(async (dir) => {
    const first = tailHarness(`${dir}/*.csv`);
    await append(`${dir}/pg.csv`, auditRows("a", 0, 10));
    await first.poll();
    first.tailer.close();
    // The position says 1000 more bytes had been seen; the file is removed while stopped.
    const pos = JSON.parse(first.position());
    const offset = pos.files[0].o;
    pos.files[0].s = offset + 1000;
    await Deno.remove(`${dir}/pg.csv`);
    const second = tailHarness(`${dir}/*.csv`, { position: JSON.stringify(pos) });
    await second.poll(2);
    assertEquals(second.gone.length, 0, "not before it was missing from three scans");
    await second.poll(1);
    assertEquals(second.gone.map((e) => [e.offset, e.size]), [[offset, offset + 1000]]);
    assertEquals(JSON.parse(second.position()).files, [], "and forgotten");
    second.tailer.close();
  });
});

Deno.test("Tailer does not alarm for a known file that was read to its end when it goes", async () => {
  await withTempDir(async (dir) => {
    const h = tailHarness(`${dir}/*.csv`);
    await append(`${dir}/pg.csv`, auditRows("a", 0, 10));
    await h.poll();
    await Deno.remove(`${dir}/pg.csv`);
    await h.poll(4);
    assertEquals(h.gone, []);
    h.tailer.close();
  });
});
