import {
  escapeHiveValue,
  parquetFileName,
  parsePartitionPath,
  partitionDir,
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

Deno.test("partitionDir() is Hive-style source=/date= with the source escaped", () => {
  const ts = Date.UTC(2026, 0, 2, 12) * 1000;
  assertEquals(
    partitionDir(partitionOf({ source: "billing", ts })),
    "source=billing/date=2026-01-02",
  );
  assertEquals(
    partitionDir({ source: "a/b c=ü", date: "2026-01-02" }),
    "source=a%2Fb%20c%3D%C3%BC/date=2026-01-02",
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

Deno.test("parsePartitionPath() reads back what partitionDir() and parquetFileName() wrote", () => {
  const path = `${partitionDir({ source: "a/b", date: "2026-01-02" })}/${parquetFileName(7, 1234)}`;
  assertEquals(path, "source=a%2Fb/date=2026-01-02/000000000007-000000001234.parquet");
  assertEquals(parsePartitionPath(path), {
    source: "a/b",
    date: "2026-01-02",
    firstSeq: 7,
    lastSeq: 1234,
  });
  for (
    const bad of [
      "source=../date=2026-01-02/1-2.parquet",
      "source=a/b/date=2026-01-02/1-2.parquet",
      "source=a/date=2026-1-2/1-2.parquet",
      "source=a/date=2026-01-02/1-2.csv",
      "/source=a/date=2026-01-02/1-2.parquet",
      "source=a%2fb/date=2026-01-02/1-2.parquet",
    ]
  ) assertEquals(parsePartitionPath(bad), undefined, bad);
});
