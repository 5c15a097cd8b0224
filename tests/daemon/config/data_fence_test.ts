/**
 * No source reads inside the data directory: the config check refuses a pgAudit `path` or
 * `current_logfiles`, a WAL `sslrootcert` or `password_file` that leads into it — written
 * straight, through `..`, or through a symbolic link — naming file, line and key; the Web UI's
 * overlay (`managed.toml`) is held to the same, also when the UI checks a staged copy from a
 * temp dir; a WAL password file the UI keeps in `secrets/` stays allowed; and the derived Deno
 * permissions never grant such a read, even for a config that skipped the check.
 */

import { CONFIG_CHECKERS, loadVigilConfig } from "../../../daemon/cli/config_load.ts";
import { SOURCE_PLUGINS } from "../../../plugins/mod.ts";
import { ConfigError, loadConfig, parseConfig } from "../../../daemon/config/config.ts";
import { managedPath, withManaged } from "../../../daemon/config/managed.ts";
import { derivePermissions } from "../../../daemon/config/permissions.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const INSTALL = {
  sources: SOURCE_PLUGINS,
  appDir: "/usr/lib/vigil",
  nativeLib: null,
  libcrypto: "/usr/lib/libcrypto.so.3",
};

const pgaudit = (path: string, extra = "") =>
  `[[sources]]\nname = "log"\ntype = "pgaudit"\npath = "${path}"\nformat = "csvlog"\n${extra}`;
const wal = (extra: string, query = "") =>
  `[[sources]]\nname = "db"\ntype = "wal"\ndsn = "postgres://vigil@127.0.0.1/x${query}"\n` +
  `slot = "s"\npublication = "p"\n${extra}`;

/** A data dir with what the daemon and the web UI keep in it, and a place for logs beside it. */
async function layout(dir: string): Promise<{ data: string; logs: string }> {
  const data = `${dir}/data`;
  await Deno.mkdir(`${data}/secrets`, { recursive: true });
  await Deno.mkdir(`${data}/keys`, { recursive: true });
  await Deno.writeTextFile(`${data}/secrets/db.password`, "wal-secret-pw\n");
  await Deno.writeTextFile(`${data}/keys/signing.key`, "not really a key\n");
  await Deno.mkdir(`${dir}/logs`);
  return { data, logs: `${dir}/logs` };
}

function refused(text: string, key: string, line: number): ConfigError {
  const error = assertThrows(() => parseConfig(text, "vigil.toml", CONFIG_CHECKERS), ConfigError);
  assertEquals([error.key, error.line], [key, line], error.message);
  assert(error.message.includes("lies inside the data directory"), error.message);
  return error;
}

Deno.test("config check: a pgAudit source may not read inside data_dir, however the path is written", async () => {
  await withTempDir(async (dir) => {
    const { data, logs } = await layout(dir);
    const head = `data_dir = "${data}"\n\n`;
    refused(head + pgaudit(`${data}/secrets/*.password`), 'sources[0] ("log").path', 6);
    refused(head + pgaudit(`${data}/keys/*`), 'sources[0] ("log").path', 6);
    refused(head + pgaudit(`${data}/*.toml`), 'sources[0] ("log").path', 6);
    refused(head + pgaudit(`${logs}/../data/secrets/*`), 'sources[0] ("log").path', 6);
    await Deno.symlink(`${data}/secrets`, `${dir}/innocent`);
    const linked = refused(
      head + pgaudit(`${dir}/innocent/*.password`),
      'sources[0] ("log").path',
      6,
    );
    assert(linked.message.includes(`(that is ${data}/secrets)`), linked.message);
    refused(
      head + pgaudit(`${logs}/*.csv`, `current_logfiles = "${data}/managed.toml"\n`),
      'sources[0] ("log").current_logfiles',
      8,
    );
    // A log directory inside data_dir would also read its parent's current_logfiles.
    refused(head + pgaudit(`${data}/log/*.csv`), 'sources[0] ("log").path', 6);
    // Beside it, `..` and all: its current_logfiles is the real parent's, not data_dir's.
    parseConfig(head + pgaudit(`${data}/../logs/*.csv`), "vigil.toml", CONFIG_CHECKERS);
    parseConfig(head + pgaudit(`${data}/../*.csv`), "vigil.toml", CONFIG_CHECKERS);
    // Beside it is fine.
    const ok = parseConfig(head + pgaudit(`${logs}/*.csv`), "vigil.toml", CONFIG_CHECKERS);
    assertEquals(ok.sources.map((s) => s.name), ["log"]);
  });
});

Deno.test("config check: a WAL source's password file may be the UI's secret, nothing else of data_dir", async () => {
  await withTempDir(async (dir) => {
    const { data } = await layout(dir);
    const head = `data_dir = "${data}"\n\n`;
    const ok = parseConfig(
      head + wal(`password_file = "${data}/secrets/db.password"\n`),
      "vigil.toml",
      CONFIG_CHECKERS,
    );
    assertEquals(ok.sources.length, 1);
    const key = refused(
      head + wal(`password_file = "${data}/keys/signing.key"\n`),
      'sources[0] ("db").password_file',
      9,
    );
    assert(key.message.includes(`${data}/secrets/`), "says where a password file may be");
    refused(
      head + wal(`password_file = "${data}/secrets/../managed.toml"\n`),
      'sources[0] ("db").password_file',
      9,
    );
    refused(
      head +
        wal(
          "",
          `?sslmode=verify-full&sslrootcert=${encodeURIComponent(`${data}/keys/signing.key`)}`,
        ),
      'sources[0] ("db").dsn',
      6,
    );
  });
});

Deno.test("managed.toml: the UI's sources are fenced too, also when the UI checks a staged copy", async () => {
  await withTempDir(async (dir) => {
    const { data, logs } = await layout(dir);
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(file, `data_dir = "${data}"\n`);
    const overlay = managedPath(data);
    await Deno.writeTextFile(overlay, `\n${pgaudit(`${data}/secrets/*.password`)}`);
    const error = await assertRejects(() => loadVigilConfig(file), ConfigError);
    assertEquals([error.file, error.line, error.key], [overlay, 5, 'sources[0] ("log").path']);

    // The web UI checks a candidate staged in a temp dir inside the data directory, with that
    // temp dir as the data dir (managed_write.ts): the real one is fenced all the same — as its
    // parent, and by the store's own marks once it has them.
    await Deno.remove(`${data}/keys`, { recursive: true }); // no marks yet
    const staged = await Deno.makeTempDir({ dir: data, prefix: ".managed-" });
    await Deno.writeTextFile(managedPath(staged), pgaudit(`${data}/secrets/*.password`));
    const own = await loadConfig(file, CONFIG_CHECKERS);
    for (const marked of [false, true]) {
      if (marked) await (await Store.open(data, { checkpointIntervalMs: 0 })).close();
      const stagedError = await assertRejects(
        () => withManaged({ ...own, dataDir: staged }, CONFIG_CHECKERS),
        ConfigError,
      );
      assertEquals(stagedError.key, 'sources[0] ("log").path');
      assert(
        stagedError.message.includes(`inside the data directory ${data}`),
        stagedError.message,
      );
    }
    // Marked, the store is fenced wherever the candidate is staged.
    const elsewhere = await Deno.makeTempDir({ dir, prefix: "candidate-" });
    await Deno.writeTextFile(managedPath(elsewhere), pgaudit(`${data}/secrets/*.password`));
    await assertRejects(
      () => withManaged({ ...own, dataDir: elsewhere }, CONFIG_CHECKERS),
      ConfigError,
    );
    await Deno.writeTextFile(
      managedPath(staged),
      wal(`password_file = "${data}/secrets/db.password"\n`) + pgaudit(`${logs}/*.csv`),
    );
    const merged = await withManaged({ ...own, dataDir: staged }, CONFIG_CHECKERS);
    assertEquals(merged.sources.map((s) => s.name), ["db", "log"]);
  });
});

Deno.test("derivePermissions() never grants a source a read inside the data directory", async () => {
  await withTempDir(async (dir) => {
    const { data, logs } = await layout(dir);
    const good = parseConfig(
      `data_dir = "${data}"\n` + pgaudit(`${logs}/*.csv`),
      "vigil.toml",
      CONFIG_CHECKERS,
    );
    assert(derivePermissions(good, INSTALL).read.includes(logs));
    // A config that did not go through the check (built in code, edited after it).
    const bad = {
      ...good,
      sources: [{ ...good.sources[0]!, table: { ...good.sources[0]!.table } }],
    };
    (bad.sources[0]!.table as Record<string, unknown>).path = `${data}/secrets/*.password`;
    const error = assertThrows(() => derivePermissions(bad, INSTALL), TypeError);
    assert(
      error.message.includes('"path"') && error.message.includes("data directory"),
      error.message,
    );
  });
});
