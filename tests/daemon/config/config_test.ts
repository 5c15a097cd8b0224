import { type ConfigCheckers, ConfigError, parseConfig } from "../../../daemon/config/config.ts";
import { parseDuration } from "../../../daemon/config/duration.ts";
import { parseListen } from "../../../daemon/config/listen.ts";
import { CONFIG_CHECKERS } from "../../../daemon/cli/config_load.ts";
import { ConfigKeyError } from "../../../daemon/config/fields.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const GOOD = `# a site's config
data_dir = "/var/lib/vigil"

[web]
listen = "127.0.0.1:8443"

[log]
level = "warn"

[store]
checkpoint_interval = "30s"

[[sources]]
name = "billing"
type = "wal"
dsn = "postgres://vigil@db1:5432/billing"
slot = "vigil_billing"
publication = "vigil_billing"

[[sources]]
name = "crm"
type = "wal"
dsn = "postgres://vigil@db2:5432/crm"
slot = "vigil_crm"
publication = "vigil_crm"
`;

/** The error of `text`, which must not check out. */
function errorOf(text: string, checkers: ConfigCheckers = CONFIG_CHECKERS): ConfigError {
  return assertThrows(() => parseConfig(text, "vigil.toml", checkers), ConfigError);
}

Deno.test("a good config is read with its defaults", () => {
  const c = parseConfig(GOOD, "vigil.toml", CONFIG_CHECKERS);
  assertEquals(c.dataDir, "/var/lib/vigil");
  assertEquals(c.web.listen, { hostname: "127.0.0.1", port: 8443, loopback: true });
  assertEquals(c.log.level, "warn");
  assertEquals(c.store.checkpointIntervalMs, 30_000);
  assertEquals(c.store.maxSegmentAgeMs, 3_600_000);
  assertEquals(c.sources.map((s) => [s.name, s.type]), [["billing", "wal"], ["crm", "wal"]]);
  assertEquals(c.sources[1]!.table.slot, "vigil_crm");
});

Deno.test("errors name the file, the line and the key", async (t) => {
  const cases: [string, string, number, RegExp][] = [
    ["unknown root key", GOOD.replace("[web]", "colour = 1\n[web]"), 4, /^colour: unknown key/],
    ["unknown [web] key", GOOD.replace('listen = "', 'port = 1\nlisten = "'), 5, /web\.port/],
    ["bad listen", GOOD.replace("127.0.0.1:8443", "127.0.0.1"), 5, /web\.listen: expected/],
    ["bad level", GOOD.replace('"warn"', '"loud"'), 8, /log\.level/],
    ["bad duration", GOOD.replace('"30s"', "30"), 11, /store\.checkpoint_interval/],
    [
      "unknown key in the second source, from the WAL plugin's own check",
      GOOD.replace('slot = "vigil_crm"', 'slot = "vigil_crm"\nsslmode = "on"'),
      25,
      /sources\[1\] \("crm"\)\.sslmode: Unknown key "sslmode"/,
    ],
    [
      "bad value in the first source",
      GOOD.replace("postgres://vigil@db1:5432/billing", "mysql://db1"),
      16,
      /sources\[0\] \("billing"\)\.dsn/,
    ],
    ["a name used twice", GOOD.replace('name = "crm"', 'name = "billing"'), 21, /used twice/],
    [
      "unknown source type",
      GOOD.replace('type = "wal"', 'type = "oracle"'),
      15,
      /\.type: Unknown source type "oracle"/,
    ],
    ["missing data_dir", GOOD.replace('data_dir = "/var/lib/vigil"', ""), 1, /^data_dir/],
  ];
  for (const [what, text, line, message] of cases) {
    await t.step(what, () => {
      const e = errorOf(text);
      assertEquals(e.line, line, `${what}: ${e.message}`);
      assert(message.test(e.message.replace(/^vigil\.toml:\d+: /, "")), e.message);
      assert(e.message.startsWith(`vigil.toml:${line}: `), e.message);
    });
  }
});

Deno.test("a TOML syntax error is reported at its line", () => {
  const e = errorOf(GOOD.replace('level = "warn"', 'level = "warn'));
  assertEquals(e.line, 8);
});

Deno.test("a listen address off loopback needs TLS", () => {
  const open = GOOD.replace("127.0.0.1:8443", "0.0.0.0:8443");
  const e = errorOf(open);
  assertEquals([e.line, e.key], [5, "web.listen"]);
  assert(/not a loopback address/.test(e.message));
  const withTls = open.replace(
    'listen = "0.0.0.0:8443"',
    'listen = "0.0.0.0:8443"\ntls_cert = "/etc/vigil/tls.crt"\ntls_key = "/etc/vigil/tls.key"',
  );
  const c = parseConfig(withTls, "vigil.toml", CONFIG_CHECKERS);
  assertEquals([c.web.tlsCert, c.web.listen.loopback], ["/etc/vigil/tls.crt", false]);
  const half = errorOf(withTls.replace('tls_key = "/etc/vigil/tls.key"', ""));
  assertEquals(half.key, "web.tls_cert");
});

Deno.test("export targets and [detect] are checked by their owners' checks", () => {
  const text = GOOD + '\n[[exports]]\nname = "archive"\ntype = "dir"\npath = "/srv"\n';
  const none = errorOf(text, { sources: CONFIG_CHECKERS.sources });
  assert(/export targets are not available/.test(none.message), none.message);
  // The real checks: the export target's and the detector's own, at the right line.
  assertEquals(parseConfig(text, "vigil.toml", CONFIG_CHECKERS).exports[0]?.type, "dir");
  const unknown = errorOf(text.replace('path = "/srv"', 'path = "/srv"\nbucket = "b"'));
  assertEquals([unknown.line, unknown.key], [31, 'exports[0] ("archive").bucket']);
  const detect = errorOf(GOOD + "\n[detect]\nfoo = 1\n");
  assertEquals(detect.line, 28);
  const seen: unknown[] = [];
  const c = parseConfig(text, "vigil.toml", {
    ...CONFIG_CHECKERS,
    exportTarget: (t) => {
      if (t.path !== "/srv") throw new TypeError(`Bad "path"`);
      seen.push(t.name);
    },
  });
  assertEquals([c.exports.length, seen], [1, ["archive"]]);
  // The key comes from the error's key path, never from its wording: a plain TypeError that
  // quotes a key is about the table, shown at its header.
  const checked = (error: TypeError): ConfigError =>
    assertThrows(
      () =>
        parseConfig(text.replace('"/srv"', '"/tmp"'), "vigil.toml", {
          ...CONFIG_CHECKERS,
          exportTarget: () => {
            throw error;
          },
        }),
      ConfigError,
    );
  const bad = checked(new ConfigKeyError("path", "not /srv"));
  assertEquals([bad.line, bad.key], [30, 'exports[0] ("archive").path']);
  const plain = checked(new TypeError('Bad "path": not /srv'));
  assertEquals([plain.line, plain.key], [27, 'exports[0] ("archive")']);
});

Deno.test("durations and listen addresses", () => {
  assertEquals(
    ["500ms", "90s", "15m", "1h", "30d"].map(parseDuration),
    [500, 90_000, 900_000, 3_600_000, 2_592_000_000],
  );
  assertEquals(["1h30m", "1d12h", "2m500ms"].map(parseDuration), [5_400_000, 129_600_000, 120_500]);
  for (const bad of ["60", "1.5h", "-1s", "1w", 60, "30m1h", "1m1m", ""]) {
    assertThrows(() => parseDuration(bad));
  }
  assertEquals(parseListen("[::1]:9000"), { hostname: "::1", port: 9000, loopback: true });
  assertEquals(parseListen("vigil.lan:443").loopback, false);
  assertEquals(parseListen("127.8.0.1:1").loopback, true);
  for (const bad of ["localhost", ":80", "1.2.3.4:70000", "a b:1"]) {
    assertThrows(() => parseListen(bad));
  }
});
