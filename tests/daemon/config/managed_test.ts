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
