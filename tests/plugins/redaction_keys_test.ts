/**
 * `redact` and `redact_defaults` mean the same on every `[[sources]]` table, whatever its type:
 * each registered plugin accepts them, refuses a bad pattern naming the key, and hands them to
 * the pipeline (the source's `redaction`), which is where redaction runs. A plugin added to the
 * registry without a table here fails this test until it has one.
 */

import { SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

/** A minimal valid table of each type; nothing is connected or read. */
const MINIMAL: Readonly<Record<string, Record<string, unknown>>> = {
  wal: { dsn: "postgres://vigil@127.0.0.1/x", slot: "s", publication: "p" },
  pgaudit: { path: "/var/log/postgresql/*.csv", format: "csvlog" },
  proxy: { listen: "127.0.0.1:6432", upstream: "postgres://127.0.0.1:5432/" },
};

for (const plugin of SOURCE_PLUGINS) {
  Deno.test(`${plugin.type} source: redact and redact_defaults are its keys, applied by the pipeline`, () => {
    const base = MINIMAL[plugin.type];
    assert(base !== undefined, `no minimal ${plugin.type} table in this test`);
    const table = {
      name: "x",
      type: plugin.type,
      ...base,
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
