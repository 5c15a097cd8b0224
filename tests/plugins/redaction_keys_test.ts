/**
 * `redact` and `redact_defaults` mean the same on every `[[sources]]` table, whatever its type:
 * each registered plugin accepts them, refuses a bad pattern naming the key, and hands them to
 * the pipeline (the source's `redaction`), which is where redaction runs. The table of each
 * type is its contract harness's (`tests/plugins/<type>/contract_harness.ts`).
 */

import { SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import type { ContractHarness } from "../support/source_contract.ts";

/** A valid table of each type, from its contract harness; nothing is connected or read. */
async function tableOf(type: string): Promise<Record<string, unknown>> {
  const url = new URL(`./${type}/contract_harness.ts`, import.meta.url);
  const mod = await import(url.href) as { HARNESS: ContractHarness };
  return mod.HARNESS.table();
}

for (const plugin of SOURCE_PLUGINS) {
  Deno.test(`${plugin.type} source: redact and redact_defaults are its keys, applied by the pipeline`, async () => {
    const table = {
      ...await tableOf(plugin.type),
      redact: ["token=(?<secret>\\S+)"],
      redact_defaults: false,
    };
    plugin.validate(table);
    assertEquals(plugin.create(table).redaction, {
      defaults: false,
      patterns: ["token=(?<secret>\\S+)"],
    });
    const { redact: _, redact_defaults: __, ...plain } = table;
    assertEquals(plugin.create(plain).redaction, { defaults: true, patterns: [] });
    for (
      const [bad, key] of [
        [{ redact: ["(unclosed"] }, '"redact"'],
        [{ redact: "token" }, '"redact"'],
        [{ redact_defaults: "no" }, '"redact_defaults"'],
      ] as const
    ) {
      const error = assertThrows(() => plugin.validate({ ...plain, ...bad }), TypeError);
      assert(error.message.includes(key), error.message);
    }
  });
}
