/**
 * The source contract, run for every plugin in the registry (`SOURCE_PLUGINS`): what the core
 * asks of a source type it reads from the plugin alone, so this checks each answer. Its config
 * errors name their key path (from the field list, then the plugin's own checks); its Deno
 * permissions are derived from its reach; its Administration form builds a table it accepts;
 * its probe never throws and never shows a secret; its gap commands are alarms and gaps; and
 * at run time it collects exactly once across a restart, stops on abort and reports only the
 * gauges it declares. Each plugin supplies `tests/plugins/<type>/contract_harness.ts`
 * (`ContractHarness`): a plugin registered without one fails here.
 */

import { stringify } from "smol-toml";
import { CONFIG_CHECKERS } from "../../daemon/cli/config_load.ts";
import { ConfigError, parseConfig } from "../../daemon/config/config.ts";
import { type ConfigField, ConfigKeyError } from "../../daemon/config/fields.ts";
import { derivePermissions } from "../../daemon/config/permissions.ts";
import { defaultDetectConfig, DetectEngine } from "../../daemon/detect/mod.ts";
import type { AuditEvent } from "../../daemon/event/model.ts";
import type { SourcePlugin } from "../../daemon/source.ts";
import { GAP_COMMANDS, SOURCE_PLUGINS } from "../../plugins/mod.ts";
import { gapKind } from "../../web/compliance.ts";
import { formFieldsOf, sourceFromForm } from "../../web/routes/admin_config_form.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { type ContractHarness, sourceContract } from "../support/source_contract.ts";

type Table = Record<string, unknown>;

/** The harness a plugin's test folder exports, or why there is none. */
async function harnessOf(type: string): Promise<ContractHarness | string> {
  const url = new URL(`./${type}/contract_harness.ts`, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    return `no ${url.pathname.replace(/^.*\/tests\//, "tests/")}`;
  }
  const mod = await import(url.href) as { HARNESS?: ContractHarness };
  return mod.HARNESS ?? `${url.pathname} exports no HARNESS`;
}

/** The config text of one source table, and the line each key is on. */
function configText(table: Table): { text: string; lineOf: (key: string) => number } {
  const head = 'data_dir = "/var/lib/vigil"\n\n[[sources]]\n';
  const body = stringify(table);
  const text = head + body + "\n";
  const lines = text.split("\n");
  return {
    text,
    lineOf: (key) => lines.findIndex((l) => l.startsWith(`${key} =`)) + 1,
  };
}

/** The ConfigError of a table, which must be refused. */
function refusal(table: Table): { error: ConfigError; lineOf: (key: string) => number } {
  const { text, lineOf } = configText(table);
  const error = assertThrows(() => parseConfig(text, "vigil.toml", CONFIG_CHECKERS), ConfigError);
  return { error, lineOf };
}

/** A value of the wrong kind for a field, and one out of its range or values where it has one. */
function badValues(f: ConfigField): unknown[] {
  switch (f.kind) {
    case "string":
      return [12, ...(f.values === undefined ? [] : ["no-such-value"])];
    case "string_or_false":
      return [true];
    case "integer":
      return [
        "10",
        1.5,
        ...(f.min === undefined ? [] : [f.min - 1]),
        ...(f.max === undefined ? [] : [f.max + 1]),
      ];
    case "boolean":
      return ["yes"];
    case "strings":
      return ["one", [1]];
  }
}

function registerContract(plugin: SourcePlugin, h: ContractHarness): void {
  const label = `${plugin.type} source`;
  const where = (t: Table, key: string): string => `sources[0] (${JSON.stringify(t.name)}).${key}`;

  Deno.test(`${label}: its harness table is valid and every key of it is in the field list`, () => {
    const table = h.table();
    assertEquals(table.type, plugin.type);
    plugin.validate(table);
    parseConfig(configText(table).text, "vigil.toml", CONFIG_CHECKERS);
    const keys = new Set(plugin.fields.map((f) => f.key));
    for (const k of Object.keys(table)) assert(k === "name" || k === "type" || keys.has(k), k);
    for (const f of plugin.fields) assert(f.doc.length > 0, `field ${f.key} has no doc`);
  });

  Deno.test(`${label}: a config error names file, line and key path from the field list`, () => {
    const table = h.table();
    const unknown = refusal({ ...table, no_such_key: 1 });
    assertEquals(unknown.error.key, where(table, "no_such_key"));
    assertEquals(unknown.error.line, unknown.lineOf("no_such_key"));
    for (const f of plugin.fields) {
      for (const value of badValues(f)) {
        const bad = { ...table, [f.key]: value };
        const { error, lineOf } = refusal(bad);
        const shown = `${f.key} = ${JSON.stringify(value)}: ${error.message}`;
        assertEquals(error.key, where(table, f.key), shown);
        assertEquals(error.line, lineOf(f.key), shown);
        // The plugin's own check, as `create` runs it, names the key the same way.
        const direct = assertThrows(() => plugin.validate(bad), ConfigKeyError);
        assertEquals(direct.key, f.key, direct.message);
      }
      if (f.required) {
        const { [f.key]: _, ...without } = table;
        assertEquals(refusal(without).error.key, where(table, f.key));
      }
    }
  });

  Deno.test(`${label}: its Deno permissions are derived from its reach`, () => {
    const table = h.table();
    const config = parseConfig(configText(table).text, "/etc/vigil/vigil.toml", CONFIG_CHECKERS);
    const install = {
      sources: SOURCE_PLUGINS,
      appDir: "/usr/lib/vigil",
      nativeLib: null,
      libcrypto: "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
    };
    const granted = derivePermissions(config, install);
    const reach = plugin.reach(table);
    for (const r of reach.read) assert(granted.read.includes(r.path), `read ${r.path}`);
    for (const n of reach.net) assert(granted.net.includes(n), `net ${n}`);
    for (const w of reach.write) assert(granted.write.includes(w), `write ${w}`);
    const others = SOURCE_PLUGINS.filter((p) => p !== plugin);
    assertThrows(() => derivePermissions(config, { ...install, sources: others }), ConfigKeyError);
  });

  Deno.test(`${label}: the Administration form builds a table its plugin accepts`, () => {
    const table = h.table();
    const fields: Record<string, string> = { name: String(table.name), type: plugin.type };
    for (const f of formFieldsOf(plugin)) {
      const v = table[f.key];
      if (typeof v === "string" || typeof v === "number") fields[f.key] = String(v);
    }
    const built = sourceFromForm(fields);
    plugin.validate(built.table);
    for (const f of formFieldsOf(plugin)) {
      if (typeof table[f.key] === "string") assertEquals(built.table[f.key], table[f.key], f.key);
    }
  });

  Deno.test(`${label}: its probe never throws and never shows a secret`, async () => {
    const malformed = await plugin.probe({ name: "x", type: plugin.type });
    assertEquals(malformed.ok, false);
    const { probes, close } = await h.secretProbes();
    try {
      assert(probes.length > 0, "the harness gives no probe with a secret");
      for (const { table, secret } of probes) {
        assert(secret.length >= 8, "a secret too short to look for");
        const r = await plugin.probe(table);
        assert(r.lines.length > 0 && r.lines.every((l) => typeof l === "string"));
        const text = r.lines.join("\n");
        assert(!text.includes(secret), `the probe showed the secret:\n${text}`);
      }
    } finally {
      await close();
    }
  });

  Deno.test(`${label}: its gap commands are alarms and gaps, its recoveries close them`, () => {
    const event = (command: string): AuditEvent => ({
      seq: 0,
      ts: 1_767_225_600_000_000,
      ingest_ts: 0,
      source: "contract",
      kind: "system",
      command,
    });
    for (const c of [...plugin.gapCommands, ...plugin.recoveryCommands]) {
      // Its own family, which an ingest token may not post (web/token_events.ts).
      assert(c.startsWith(`${plugin.type.toUpperCase()}_`), `${c}: not ${plugin.type}'s family`);
    }
    for (const c of plugin.gapCommands) {
      const engine = new DetectEngine(defaultDetectConfig(), { gapCommands: GAP_COMMANDS });
      engine.feed([{ seq: 0, event: event(c) }]);
      engine.flush();
      assertEquals(engine.list().map((a) => a.rule), ["audit_tampering"], c);
      assertEquals(gapKind(event(c)), "gap", c);
    }
    for (const c of plugin.recoveryCommands) assertEquals(gapKind(event(c)), "recovery", c);
  });

  sourceContract(label, h.fixture, { gauges: plugin.gauges.map((g) => g.name) });
}

for (const plugin of SOURCE_PLUGINS) {
  const harness = await harnessOf(plugin.type);
  if (typeof harness === "string") {
    Deno.test(`${plugin.type} source: has a contract harness`, () => {
      throw new Error(`source type "${plugin.type}" is registered without a harness: ${harness}`);
    });
    continue;
  }
  registerContract(plugin, harness);
}
