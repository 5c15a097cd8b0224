import {
  archiveKey,
  bundleFilePath,
  escapeHiveValue,
  parseBundlePath,
  partitionOf,
  unescapeHiveValue,
  utcDate,
} from "../../../daemon/export/partition.ts";
import { assertEquals } from "../../support/assert.ts";

Deno.test("utcDate() is the UTC day of a µs time, before and after the epoch", () => {
  assertEquals(utcDate(0), "1970-01-01");
  assertEquals(utcDate(-1), "1969-12-31");
  assertEquals(utcDate(Date.UTC(2026, 1, 28, 23, 59, 59) * 1000 + 999_999), "2026-02-28");
  assertEquals(utcDate(Date.UTC(2026, 2, 1) * 1000), "2026-03-01");
  assertEquals(utcDate(Number.MAX_SAFE_INTEGER), "2255-06-05");
});

Deno.test("bundleFilePath() is events/date=…/<first>-<last>.parquet; the target key drops events/", () => {
  const ts = Date.UTC(2026, 0, 2, 12) * 1000;
  const path = bundleFilePath(partitionOf({ source: "billing", ts }), { first: 7, last: 1234 });
  assertEquals(path, "events/date=2026-01-02/000000000007-000000001234.parquet");
  assertEquals(archiveKey(path), "date=2026-01-02/000000000007-000000001234.parquet");
  // A source never names a folder: no reader sees it twice, whatever it is called.
  assertEquals(
    bundleFilePath({ source: "a/b c=ü", date: "2026-01-02" }, { first: 1, last: 2 }),
    "events/date=2026-01-02/000000000001-000000000002.parquet",
  );
});

Deno.test("bundleFilePath() of version 1 is source=/date= with the source escaped", () => {
  assertEquals(
    bundleFilePath({ source: "a/b c=ü", date: "2026-01-02" }, { first: 1, last: 2 }, 1),
    "source=a%2Fb%20c%3D%C3%BC/date=2026-01-02/000000000001-000000000002.parquet",
  );
  assertEquals(
    archiveKey("source=a/date=2026-01-02/1-2.parquet"),
    "source=a/date=2026-01-02/1-2.parquet",
  );
  assertEquals(escapeHiveValue(".."), "%2E.");
  assertEquals(escapeHiveValue("db1.log"), "db1.log");
});

Deno.test("unescapeHiveValue() undoes escapeHiveValue() and refuses malformed escapes", () => {
  for (const s of ["billing", "a/b c=ü", "..", "🦀 %41", "x".repeat(300)]) {
    assertEquals(unescapeHiveValue(escapeHiveValue(s)), s);
  }
  assertEquals(unescapeHiveValue("%4"), undefined);
  assertEquals(unescapeHiveValue("%FF"), undefined);
  assertEquals(unescapeHiveValue("ü"), undefined);
});

Deno.test("parseBundlePath() reads back what bundleFilePath() wrote, in either version", () => {
  const seqs = { first: 7, last: 1234 };
  const p = { source: "a/b", date: "2026-01-02" };
  assertEquals(parseBundlePath(bundleFilePath(p, seqs), 2), {
    date: "2026-01-02",
    firstSeq: 7,
    lastSeq: 1234,
  });
  assertEquals(parseBundlePath(bundleFilePath(p, seqs, 1), 1), {
    source: "a/b",
    date: "2026-01-02",
    firstSeq: 7,
    lastSeq: 1234,
  });
  assertEquals(parseBundlePath(bundleFilePath(p, seqs, 1), 2), undefined);
  assertEquals(parseBundlePath(bundleFilePath(p, seqs), 1), undefined);
  for (
    const bad of [
      "source=../date=2026-01-02/1-2.parquet",
      "source=a/b/date=2026-01-02/1-2.parquet",
      "source=a/date=2026-1-2/1-2.parquet",
      "source=a/date=2026-01-02/1-2.csv",
      "/source=a/date=2026-01-02/1-2.parquet",
      "source=a%2fb/date=2026-01-02/1-2.parquet",
    ]
  ) assertEquals(parseBundlePath(bad, 1), undefined, bad);
  for (
    const bad of [
      "date=2026-01-02/000000000001-000000000002.parquet",
      "events/date=2026-01-02/1-2.parquet",
      "events/date=2026-1-02/000000000001-000000000002.parquet",
      "events/x/date=2026-01-02/000000000001-000000000002.parquet",
      "events/date=2026-01-02/000000000001-000000000002.csv",
    ]
  ) assertEquals(parseBundlePath(bad, 2), undefined, bad);
});
