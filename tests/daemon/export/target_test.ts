/** The `[[exports]]` tables: every bad key is named, defaults are filled in, durations parse. */

import {
  exportTargetFromTable,
  loadExportTargets,
  parseDuration,
} from "../../../daemon/export/target.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const S3 = {
  name: "archive",
  type: "s3",
  endpoint: "https://rgw.example:7480",
  bucket: "vigil-audit",
  access_key_file: "/etc/vigil/s3.access",
  secret_key_file: "/etc/vigil/s3.secret",
};

Deno.test("exportTargetFromTable() fills in the defaults of an s3 target", () => {
  assertEquals(exportTargetFromTable(S3), {
    name: "archive",
    type: "s3",
    intervalMs: 15 * 60_000,
    endpoint: "https://rgw.example:7480",
    bucket: "vigil-audit",
    prefix: "",
    region: "us-east-1",
    accessKeyFile: "/etc/vigil/s3.access",
    secretKeyFile: "/etc/vigil/s3.secret",
    partBytes: 16 * 1024 * 1024,
    multipartThreshold: 64 * 1024 * 1024,
  });
  const locked = exportTargetFromTable({
    ...S3,
    prefix: "site1",
    object_lock: true,
    retain_days: 400,
    interval: "1h",
  });
  assertEquals([
    locked.type === "s3" && locked.prefix,
    locked.type === "s3" && locked.retainDays,
    locked.intervalMs,
  ], [
    "site1/",
    400,
    3_600_000,
  ]);
});

Deno.test("exportTargetFromTable() throws TypeError naming the bad key", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...S3, bucket: undefined }, /bucket is required/],
    [{ ...S3, colour: "red" }, /unknown key "colour"/],
    [{ ...S3, type: "ftp" }, /type must be "dir" or "s3"/],
    [{ ...S3, endpoint: "https://h/path" }, /endpoint/],
    [{ ...S3, bucket: "Bad_Bucket" }, /bucket "Bad_Bucket"/],
    [{ ...S3, object_lock: true }, /retain_days is required/],
    [{ ...S3, retain_days: 5 }, /retain_days applies only/],
    [{ ...S3, part_size_mib: 4 }, /part_size_mib must be an integer of at least 5/],
    [{ ...S3, interval: "soon" }, /interval/],
    [{ ...S3, prefix: "/abs" }, /prefix/],
    [{ name: "d", type: "dir" }, /exports "d": path is required/],
    [{ name: "d", type: "dir", path: "/x", bucket: "b" }, /unknown key "bucket" for type "dir"/],
    [{ name: "a b", type: "dir", path: "/x" }, /name "a b"/],
  ];
  for (const [table, message] of cases) {
    const clean = Object.fromEntries(Object.entries(table).filter(([, v]) => v !== undefined));
    assertThrows(() => exportTargetFromTable(clean), { instanceOf: TypeError, message });
  }
});

Deno.test("parseDuration() reads day, hour, minute and second sums", () => {
  assertEquals(parseDuration("90s", "x"), 90_000);
  assertEquals(parseDuration("1h30m", "x"), 5_400_000);
  assertEquals(parseDuration("2d", "x"), 172_800_000);
  assertThrows(() => parseDuration("0s", "x"), TypeError);
  assertThrows(() => parseDuration("15 minutes", "x"), TypeError);
});

Deno.test("loadExportTargets() reads the [[exports]] tables and refuses a name used twice", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(
      file,
      `data_dir = "/var/lib/vigil"\n[web]\nlisten = "127.0.0.1:8443"\n` +
        `[[exports]]\nname = "usb"\ntype = "dir"\npath = "/media/usb"\ninterval = "1h"\n`,
    );
    assertEquals(await loadExportTargets(file), [
      { name: "usb", type: "dir", intervalMs: 3_600_000, path: "/media/usb" },
    ]);
    await Deno.writeTextFile(
      file,
      `[[exports]]\nname = "usb"\ntype = "dir"\npath = "/a"\n[[exports]]\nname = "usb"\ntype = "dir"\npath = "/b"\n`,
    );
    await assertRejectsType(() => loadExportTargets(file), /configured twice/);
  });
});

async function assertRejectsType(fn: () => Promise<unknown>, message: RegExp) {
  const { assertRejects } = await import("../../support/assert.ts");
  await assertRejects(fn, { instanceOf: TypeError, message });
}
