/**
 * Where export targets may point: a `dir` target's path absolute and outside the data directory
 * (in the config file and in the UI's managed.toml), an `s3` endpoint never a link-local or
 * cloud metadata address — each refusal naming file, line and key.
 */

import { CONFIG_CHECKERS, loadVigilConfig } from "../../../daemon/cli/config_load.ts";
import { ConfigError, parseConfig } from "../../../daemon/config/config.ts";
import { metadataHost } from "../../../daemon/config/export_places.ts";
import { managedPath } from "../../../daemon/config/managed.ts";
import { assertEquals, assertMatch, assertRejects, assertThrows } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const HEAD = `data_dir = "/var/lib/vigil"\n\n`;

function dir(path: string): string {
  return `[[exports]]\nname = "nas"\ntype = "dir"\npath = "${path}"\n`;
}

function s3(endpoint: string): string {
  return `[[exports]]\nname = "archive"\ntype = "s3"\nendpoint = "${endpoint}"\n` +
    `bucket = "vigil-audit"\naccess_key_file = "s3.access"\nsecret_key_file = "s3.secret"\n`;
}

function errorOf(text: string): ConfigError {
  return assertThrows(() => parseConfig(text, "vigil.toml", CONFIG_CHECKERS), ConfigError);
}

Deno.test("a dir export target must be absolute and outside the data directory", () => {
  const relative = errorOf(HEAD + dir("archive/vigil"));
  assertEquals([relative.line, relative.key], [6, 'exports[0] ("nas").path']);
  assertMatch(relative.message, /must be an absolute path, not "archive\/vigil"/);

  for (const inside of ["/var/lib/vigil", "/var/lib/vigil/exports", "/var/lib/x/../vigil/e"]) {
    const e = errorOf(HEAD + dir(inside));
    assertEquals(e.line, 6, inside);
    assertMatch(e.message, /lies inside the data directory \/var\/lib\/vigil/, inside);
  }
  // Beside it, or above it, is fine.
  for (const ok of ["/var/lib/vigil-archive", "/mnt/archive", "/var/lib"]) {
    parseConfig(HEAD + dir(ok), "vigil.toml", CONFIG_CHECKERS);
  }
});

Deno.test("an s3 export target on a link-local or metadata address is refused", () => {
  const refused = [
    "http://169.254.169.254",
    "http://169.254.0.1:8080",
    "https://[fe80::1]:7480",
    "http://[fd00:ec2::254]",
    "http://[::ffff:169.254.169.254]",
    "http://2852039166", // 169.254.169.254 as one number
    "http://metadata.google.internal",
    "http://100.100.100.200",
  ];
  for (const endpoint of refused) {
    const e = errorOf(HEAD + s3(endpoint));
    assertEquals(e.line, 6, endpoint);
    assertMatch(e.message, /endpoint.*(link-local|metadata)/, endpoint);
  }
  for (const ok of ["https://rgw.example:7480", "http://127.0.0.1:7480", "http://[::1]:9000"]) {
    parseConfig(HEAD + s3(ok), "vigil.toml", CONFIG_CHECKERS);
  }
  assertEquals(metadataHost("10.0.0.5"), null);
  assertEquals(metadataHost("fd00:ec3::1"), null);
});

Deno.test("managed.toml's export targets are checked against the data directory too", async () => {
  await withTempDir(async (root) => {
    const file = `${root}/vigil.toml`;
    const data = `${root}/data`;
    await Deno.mkdir(data);
    await Deno.writeTextFile(file, `data_dir = "${data}"\n`);
    await Deno.writeTextFile(managedPath(data), `\n${dir(`${data}/secrets/out`)}`);
    const e = await assertRejects(() => loadVigilConfig(file), ConfigError);
    assertEquals([e.file, e.line], [managedPath(data), 5]);
    assertMatch(e.message, /"path" .* lies inside the data directory/);
    await Deno.writeTextFile(managedPath(data), `\n${s3("http://169.254.169.254")}`);
    const m = await assertRejects(() => loadVigilConfig(file), ConfigError);
    assertEquals([m.file, m.line], [managedPath(data), 5]);
  });
});
