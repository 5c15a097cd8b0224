import { loadVigilConfig } from "../../../daemon/cli/config_load.ts";
import { ConfigError } from "../../../daemon/config/config.ts";
import { managedPath } from "../../../daemon/config/managed.ts";
import {
  readManaged,
  removeSecrets,
  secretsDir,
  writeManaged,
  writeSecret,
} from "../../../daemon/config/managed_write.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const DIR_TARGET = (dir: string) => ({ name: "archive", type: "dir", path: `${dir}/archive` });

/** A config file with one source of its own, and its data dir. */
async function setup(dir: string): Promise<{ file: string; data: string }> {
  const file = `${dir}/vigil.toml`;
  const data = `${dir}/data`;
  await Deno.mkdir(data);
  await Deno.writeTextFile(
    file,
    `data_dir = "${data}"\n\n[[sources]]\nname = "billing"\ntype = "wal"\n` +
      `dsn = "postgres://vigil@db1/x"\nslot = "s1"\npublication = "p1"\n`,
  );
  return { file, data };
}

Deno.test("writeManaged() writes an overlay that loadVigilConfig() merges, mode 0600", async () => {
  await withTempDir(async (dir) => {
    const { file, data } = await setup(dir);
    let checked = 0;
    await writeManaged(data, { sources: [], exports: [DIR_TARGET(dir)], retainLocal: null }, {
      check: async (staged) => {
        checked++;
        assert((await Deno.stat(`${staged}/managed.toml`)).isFile);
      },
    });
    assertEquals(checked, 1);
    assertEquals((await Deno.stat(managedPath(data))).mode! & 0o777, 0o600);
    assertEquals((await loadVigilConfig(file)).exports.map((e) => e.name), ["archive"]);
    assertEquals((await readManaged(data)).exports, [DIR_TARGET(dir)]);
    // No staging directory or temp file is left behind.
    const names = [];
    for await (const e of Deno.readDir(data)) names.push(e.name);
    assertEquals(names, ["managed.toml"]);
  });
});

Deno.test("writeManaged() leaves the file unchanged when the check throws", async () => {
  await withTempDir(async (dir) => {
    const { data } = await setup(dir);
    await writeManaged(data, { sources: [], exports: [DIR_TARGET(dir)], retainLocal: null }, {
      check: async () => {},
    });
    const before = await Deno.readTextFile(managedPath(data));
    const e = await assertRejects(
      () =>
        writeManaged(data, { sources: [], exports: [], retainLocal: null }, {
          check: () => Promise.reject(new ConfigError("x", 1, undefined, "refused")),
        }),
      ConfigError,
    );
    assert(e.message.includes("refused"), e.message);
    assertEquals(await Deno.readTextFile(managedPath(data)), before);
  });
});

Deno.test("writeSecret() writes 0600 files under secrets/ and undo() restores the old one", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await Deno.mkdir(data);
    const first = await writeSecret(data, "crm.password", "s3cret one");
    assertEquals(first.path, `${secretsDir(data)}/crm.password`);
    assertEquals((await Deno.stat(first.path)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(secretsDir(data))).mode! & 0o777, 0o700);
    const second = await writeSecret(data, "crm.password", "s3cret two");
    assertEquals(await Deno.readTextFile(second.path), "s3cret two\n");
    await second.undo();
    assertEquals(await Deno.readTextFile(first.path), "s3cret one\n");
    await first.undo();
    await assertRejects(() => Deno.stat(first.path), Deno.errors.NotFound);

    const bad = await assertRejects(() => writeSecret(data, "../escape", "x"), TypeError);
    assert(bad.message.includes("plain file name"), bad.message);
    await assertRejects(() => writeSecret(data, "a.password", "two\nlines"), TypeError);

    // removeSecrets() removes only files in secrets/.
    const kept = `${dir}/elsewhere.password`;
    await Deno.writeTextFile(kept, "x");
    const w = await writeSecret(data, "gone.password", "x");
    await removeSecrets(data, [w.path, kept]);
    await assertRejects(() => Deno.stat(w.path), Deno.errors.NotFound);
    assert((await Deno.stat(kept)).isFile);
  });
});

Deno.test("writeManaged() serialises concurrent writes: none is lost half-written", async () => {
  await withTempDir(async (dir) => {
    const { file, data } = await setup(dir);
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map((i) =>
        writeManaged(data, {
          sources: [],
          exports: [{ ...DIR_TARGET(dir), name: `t${i}` }],
          retainLocal: null,
        }, {
          check: async () => {
            order.push(i);
            await new Promise((r) => setTimeout(r, 5));
            order.push(i);
          },
        })
      ),
    );
    // Each check ran alone: its two marks are adjacent.
    assertEquals(order, [1, 1, 2, 2, 3, 3]);
    assertEquals((await loadVigilConfig(file)).exports.map((e) => e.name), ["t3"]);
  });
});
