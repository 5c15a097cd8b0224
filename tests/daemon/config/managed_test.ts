import { loadVigilConfig } from "../../../daemon/cli/config_load.ts";
import { ConfigError } from "../../../daemon/config/config.ts";
import { managedPath } from "../../../daemon/config/managed.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const wal = (name: string) =>
  `[[sources]]\nname = "${name}"\ntype = "wal"\ndsn = "postgres://vigil@db1/x"\n` +
  `slot = "s_${name}"\npublication = "p_${name}"\n`;

Deno.test("managed.toml adds the UI's sources and targets after the config file's own", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/vigil.toml`;
    await Deno.writeTextFile(file, `data_dir = "${dir}/data"\n\n${wal("billing")}`);
    assertEquals((await loadVigilConfig(file)).sources.map((s) => s.name), ["billing"]);

    await Deno.mkdir(`${dir}/data`);
    const overlay = managedPath(`${dir}/data`);
    await Deno.writeTextFile(
      overlay,
      `${wal("crm")}\n[[exports]]\nname = "archive"\ntype = "dir"\npath = "${dir}/archive"\n`,
    );
    const c = await loadVigilConfig(file);
    assertEquals(c.sources.map((s) => s.name), ["billing", "crm"]);
    assertEquals(c.exports.map((e) => e.name), ["archive"]);

    // A name the config file uses, at the overlay's line.
    await Deno.writeTextFile(overlay, `\n${wal("billing")}`);
    const clash = await assertRejects(() => loadVigilConfig(file), ConfigError);
    assertEquals([clash.file, clash.line], [overlay, 3]);
    assert(clash.message.includes("used in"), clash.message);

    // Only sources and export targets belong there; the plugins' checks apply.
    await Deno.writeTextFile(overlay, `[web]\nlisten = "0.0.0.0:80"\n`);
    const web = await assertRejects(() => loadVigilConfig(file), ConfigError);
    assertEquals([web.file, web.line, web.key], [overlay, 1, "web"]);
    await Deno.writeTextFile(overlay, wal("crm").replace("slot", "slots"));
    const bad = await assertRejects(() => loadVigilConfig(file), ConfigError);
    assertEquals([bad.file, bad.line], [overlay, 5]);
  });
});

Deno.test("managed.toml sets [store] retain_local unless the config file does", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/vigil.toml`;
    const target = `[[exports]]\nname = "archive"\ntype = "dir"\npath = "${dir}/archive"\n`;
    await Deno.writeTextFile(file, `data_dir = "${dir}/data"\n\n${wal("billing")}`);
    await Deno.mkdir(`${dir}/data`);
    const overlay = managedPath(`${dir}/data`);
    const load = async (text: string) => {
      await Deno.writeTextFile(overlay, text);
      return loadVigilConfig(file);
    };
    const refused = async (text: string): Promise<ConfigError> => {
      await Deno.writeTextFile(overlay, text);
      return assertRejects(() => loadVigilConfig(file), ConfigError);
    };

    // With the overlay's own target, and without the key: retention off.
    assertEquals(
      (await load(`[store]\nretain_local = "90d"\n\n${target}`)).store.retainLocalMs,
      90 * 86_400_000,
    );
    assertEquals((await load(target)).store.retainLocalMs, null);

    // Without any export target, at the overlay's line, as the config file's own check says.
    const lonely = await refused(`\n[store]\nretain_local = "30d"\n`);
    assertEquals([lonely.file, lonely.line, lonely.key], [overlay, 3, "store.retain_local"]);
    assert(lonely.message.includes("needs at least one [[exports]] target"), lonely.message);

    // The same duration grammar; and of [store], retain_local alone.
    const bad = await refused(`[store]\nretain_local = "90 days"\n\n${target}`);
    assertEquals([bad.file, bad.line, bad.key], [overlay, 2, "store.retain_local"]);
    assert(bad.message.includes("expected a duration"), bad.message);
    const other = await refused(`[store]\nretain_local = "9d"\nmax_segment_age = "1h"\n`);
    assertEquals([other.file, other.line, other.key], [overlay, 3, "store.max_segment_age"]);

    // A target in the config file is enough.
    await Deno.writeTextFile(file, `data_dir = "${dir}/data"\n\n${target}`);
    assertEquals(
      (await load(`[store]\nretain_local = "36h"\n`)).store.retainLocalMs,
      36 * 3_600_000,
    );

    // Once the config file sets it, its value decides and the overlay's is an error there.
    await Deno.writeTextFile(
      file,
      `data_dir = "${dir}/data"\n[store]\nretain_local = "7d"\n\n${target}`,
    );
    assertEquals((await load("")).store.retainLocalMs, 7 * 86_400_000);
    const twice = await refused(`\n\n[store]\nretain_local = "90d"\n`);
    assertEquals([twice.file, twice.line, twice.key], [overlay, 4, "store.retain_local"]);
    assert(twice.message.includes(`set in ${file} already`), twice.message);
  });
});
