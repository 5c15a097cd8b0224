/**
 * The registry is the one place a source type is named outside its folder: the core
 * (`daemon/`) and the web UI (`web/`) hold no string literal of a registered type, so none of
 * them can branch on one, and adding a source changes only `plugins/mod.ts` (README, "Add a
 * source"). Comments may name types; code may not.
 */

import { SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { assertEquals } from "../support/assert.ts";

const ROOT = new URL("../../", import.meta.url);

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    const url = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
    if (e.isDirectory) yield* sourceFiles(url);
    else if (/\.tsx?$/.test(e.name)) yield url;
  }
}

/** The text without comments (line and block), so that only code is looked at. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:\\])\/\/.*$/gm, "$1");
}

Deno.test("no file of daemon/ or web/ names a registered source type in its code", async () => {
  const types = SOURCE_PLUGINS.map((p) => p.type);
  const found: string[] = [];
  for (const top of ["daemon/", "web/"]) {
    for await (const file of sourceFiles(new URL(top, ROOT))) {
      const text = code(await Deno.readTextFile(file));
      for (const t of types) {
        if (text.includes(`"${t}"`) || text.includes(`'${t}'`) || text.includes(`\`${t}\``)) {
          found.push(`${file.pathname.slice(ROOT.pathname.length)}: "${t}"`);
        }
      }
    }
  }
  assertEquals(found, []);
});
