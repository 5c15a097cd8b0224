/**
 * `vigil bench <source type>` reaches the benchmark its plugin declares (`SourcePlugin.bench`),
 * with no branch on a type name in the command; an unknown name is a usage error.
 */

import { SOURCE_PLUGINS } from "../../../plugins/mod.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { runVigil } from "../../support/cli.ts";

Deno.test("vigil bench <type> runs the source plugin's own benchmark; an unknown one is refused", async () => {
  const benched = SOURCE_PLUGINS.filter((p) => p.bench !== undefined).map((p) => p.type);
  assert(benched.includes("pgaudit"), benched.join(", "));
  const r = await runVigil(["bench", "pgaudit", "--bytes", "65536"]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { bench: string });
  assert(lines.length > 0 && lines.every((l) => l.bench.startsWith("pgaudit.")), r.stdout);
  const unknown = await runVigil(["bench", "no-such-source"]);
  assertEquals(unknown.code, 2, unknown.stderr);
});
