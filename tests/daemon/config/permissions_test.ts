/**
 * derivePermissions() and permissionFlags(): the `deno run` flags of `vigil serve` come from the
 * config as the real checks read it (the plugins' own validators, the export target parser),
 * and name exactly what each part reaches.
 */

import { CONFIG_CHECKERS } from "../../../daemon/cli/config_load.ts";
import { SOURCE_PLUGINS } from "../../../plugins/mod.ts";
import {
  type ConfigCheckers,
  parseConfig,
  type VigilConfig,
} from "../../../daemon/config/config.ts";
import {
  DAEMON_ENV,
  derivePermissions,
  type InstallContext,
  permissionFlags,
} from "../../../daemon/config/permissions.ts";
import { exportTargetFromTable } from "../../../daemon/export/target.ts";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const CHECKERS: ConfigCheckers = {
  ...CONFIG_CHECKERS,
  exportTarget: (t) => void exportTargetFromTable({ ...t }),
};

const INSTALL: InstallContext = {
  sources: SOURCE_PLUGINS,
  appDir: "/usr/lib/vigil",
  nativeLib: "/usr/lib/vigil/libvigil_hash.so",
  libcrypto: "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
};

function config(body: string): VigilConfig {
  return parseConfig(`data_dir = "/var/lib/vigil"\n${body}`, "/etc/vigil/vigil.toml", CHECKERS);
}

Deno.test("derivePermissions() grants the data dir, config, app and libraries, and the listen address", () => {
  const p = derivePermissions(config('[web]\nlisten = "127.0.0.1:8443"\n'), INSTALL);
  assertEquals(p.read, [
    "/var/lib/vigil",
    "/etc/vigil/vigil.toml",
    "/usr/lib/vigil",
    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
    "/usr/lib/vigil/libvigil_hash.so",
  ]);
  assertEquals(p.write, ["/var/lib/vigil"]);
  assertEquals(p.net, ["127.0.0.1:8443"]);
  assertEquals(p.ffi, [INSTALL.libcrypto, INSTALL.nativeLib]);
  assertEquals(p.env, [...DAEMON_ENV]);
  assertEquals(p.sys, ["statfs"]);
  assertEquals(p.unstable, []);
});

Deno.test("derivePermissions() without the native library grants OpenSSL alone", () => {
  const p = derivePermissions(config(""), { ...INSTALL, nativeLib: null });
  assertEquals(p.ffi, [INSTALL.libcrypto]);
  assert(!p.read.includes("/usr/lib/vigil/libvigil_hash.so"));
});

Deno.test("derivePermissions() grants the TLS certificate and key files of [web]", () => {
  const p = derivePermissions(
    config(
      '[web]\nlisten = "[::]:8443"\ntls_cert = "/etc/vigil/tls.crt"\ntls_key = "/etc/vigil/tls.key"\n',
    ),
    INSTALL,
  );
  assertEquals(p.net, ["[::]:8443"]);
  assert(p.read.includes("/etc/vigil/tls.crt") && p.read.includes("/etc/vigil/tls.key"));
  assertEquals(p.write, ["/var/lib/vigil"]);
});

function wal(name: string, dsn: string): string {
  return `[[sources]]\nname = "${name}"\ntype = "wal"\ndsn = "${dsn}"\nslot = "s_${name}"\n` +
    `publication = "p_${name}"\n`;
}

Deno.test("derivePermissions() grants each WAL source's host and port, default 5432", () => {
  const p = derivePermissions(
    config(
      wal(
        "a",
        "postgres://vigil:secret@db1.example:6432/billing?sslmode=verify-full&sslrootcert=/etc/vigil/pg-ca.pem",
      ) +
        wal("b", "postgres://vigil@db2/x") + wal("c", "postgresql://vigil@[fd00::5]:5433/x") +
        wal("d", "postgres://vigil@ignored:1/x?host=10.0.0.9&port=7000"),
    ),
    INSTALL,
  );
  assertEquals(p.net, [
    "127.0.0.1:8443",
    "db1.example:6432",
    "db2:5432",
    "[fd00::5]:5433",
    "10.0.0.9:7000",
  ]);
  assert(p.read.includes("/etc/vigil/pg-ca.pem"), "sslrootcert is readable");
  assertEquals(p.write, ["/var/lib/vigil"]);
});

Deno.test("derivePermissions() grants a Unix-socket WAL source its socket file, not a directory", () => {
  const p = derivePermissions(
    config(wal("local", "postgres://vigil@%2Fvar%2Frun%2Fpostgresql:5432/billing")),
    INSTALL,
  );
  assert(p.read.includes("/var/run/postgresql/.s.PGSQL.5432"));
  assert(p.write.includes("/var/run/postgresql/.s.PGSQL.5432"));
  assertEquals(p.net, ["127.0.0.1:8443"]);
});

function pgaudit(name: string, path: string, extra = ""): string {
  return `[[sources]]\nname = "${name}"\ntype = "pgaudit"\npath = "${path}"\nformat = "csvlog"\n${extra}`;
}

Deno.test("derivePermissions() grants a pgAudit source its log directory and current_logfiles, read-only", () => {
  const p = derivePermissions(
    config(
      pgaudit("a", "/var/lib/postgresql/15/main/log/*.csv") +
        pgaudit(
          "b",
          "/var/log/postgresql/*.csv",
          'current_logfiles = "/srv/pg/current_logfiles"\n',
        ) +
        pgaudit("c", "/var/log/other/pg-*.csv", "current_logfiles = false\n"),
    ),
    INSTALL,
  );
  for (
    const path of [
      "/var/lib/postgresql/15/main/log",
      "/var/lib/postgresql/15/main/current_logfiles",
      "/var/log/postgresql",
      "/srv/pg/current_logfiles",
      "/var/log/other",
    ]
  ) assert(p.read.includes(path), `${path} is readable`);
  assert(!p.read.includes("/var/log/current_logfiles"), "current_logfiles = false reads none");
  assertEquals(p.write, ["/var/lib/vigil"], "logs are never writable");
});

Deno.test("derivePermissions() grants export targets: a dir read-write, S3 its endpoint and key files", () => {
  const exports = '[[exports]]\nname = "usb"\ntype = "dir"\npath = "/srv/export"\n\n' +
    '[[exports]]\nname = "rgw"\ntype = "s3"\nendpoint = "https://rgw.example"\nbucket = "audit"\n' +
    'access_key_file = "s3.access"\nsecret_key_file = "/etc/vigil/s3.secret"\n\n' +
    '[[exports]]\nname = "lab"\ntype = "s3"\nendpoint = "http://10.1.2.3:7480"\nbucket = "audit"\n' +
    'access_key_file = "/k/a"\nsecret_key_file = "/k/s"\n';
  const creds = "/run/credentials/vigil.service";
  const p = derivePermissions(config(exports), { ...INSTALL, credentialsDir: creds });
  assertEquals(p.write, ["/var/lib/vigil", "/srv/export"]);
  assertEquals(p.net, ["127.0.0.1:8443", "rgw.example:443", "10.1.2.3:7480"]);
  for (const path of [`${creds}/s3.access`, "/etc/vigil/s3.secret", "/k/a", "/k/s", creds]) {
    assert(p.read.includes(path), `${path} is readable`);
  }
});

Deno.test("derivePermissions() grants the [detect] alert channels' addresses", () => {
  const p = derivePermissions(
    config(
      '[detect]\n[detect.syslog]\naddress = "10.0.0.5:514"\n' +
        '[detect.webhook]\nurl = "https://hooks.example/vigil"\n' +
        '[detect.smtp]\nhost = "mail.example"\nfrom = "vigil@example.org"\nto = ["soc@example.org"]\n',
    ),
    INSTALL,
  );
  assertEquals(p.net, [
    "127.0.0.1:8443",
    "10.0.0.5:514",
    "0.0.0.0:0",
    "hooks.example:443",
    "mail.example:25",
  ]);
  const tcp = derivePermissions(
    config('[detect.syslog]\naddress = "[fd00::1]:6514"\ntransport = "tcp"\n'),
    INSTALL,
  );
  assertEquals(tcp.net, ["127.0.0.1:8443", "[fd00::1]:6514"]);
});

Deno.test("derivePermissions() lets the SMTP channel read its CA file and password file", () => {
  const p = derivePermissions(
    config(
      '[detect.smtp]\nhost = "mail.example"\nport = 587\nfrom = "vigil@example.org"\n' +
        'to = ["soc@example.org"]\nstarttls = true\nca_file = "/etc/vigil/mail-ca.pem"\n' +
        'username = "vigil"\npassword_file = "/etc/vigil/smtp.password"\n',
    ),
    INSTALL,
  );
  assertEquals(p.net, ["127.0.0.1:8443", "mail.example:587"]);
  for (const path of ["/etc/vigil/mail-ca.pem", "/etc/vigil/smtp.password"]) {
    assert(p.read.includes(path), `${path} is readable`);
  }
});

Deno.test("derivePermissions() under systemd grants the notify sockets and the unstable datagram API", () => {
  const p = derivePermissions(config(""), {
    ...INSTALL,
    notifySocket: "/run/systemd/notify",
    runtimeDir: "/run/vigil",
  });
  assertEquals(p.unstable, ["net"]);
  assertEquals(p.net, [
    "127.0.0.1:8443",
    "unix:/run/systemd/notify",
    "unix:/run/vigil/notify.sock",
  ]);
  assert(p.write.includes("/run/vigil/notify.sock") && p.write.includes("/run/systemd/notify"));
});

Deno.test("derivePermissions() refuses a source type the registry it is handed lacks", () => {
  const table = {
    name: "x",
    type: "wal",
    dsn: "postgres://vigil@db1/x",
    slot: "s",
    publication: "p",
  };
  const c: VigilConfig = { ...config(""), sources: [{ name: "x", type: "wal", table }] };
  assert(derivePermissions(c, INSTALL).net.includes("db1:5432"));
  const others = SOURCE_PLUGINS.filter((p) => p.type !== "wal");
  assertThrows(() => derivePermissions(c, { ...INSTALL, sources: others }), {
    instanceOf: TypeError,
    message: 'Unknown source type "wal"',
  });
});

Deno.test("derivePermissions() refuses a path with a comma, which Deno's lists cannot hold", () => {
  const c = parseConfig('data_dir = "/srv/a,b"\n', "/etc/vigil/vigil.toml", CHECKERS);
  assertThrows(() => derivePermissions(c, INSTALL), {
    instanceOf: TypeError,
    message: "/srv/a,b",
  });
});

Deno.test("permissionFlags() lists every kind explicitly and never grants everything", () => {
  const flags = permissionFlags(
    derivePermissions(config(""), { ...INSTALL, notifySocket: "/run/systemd/notify" }),
  );
  assertEquals(flags.map((f) => f.split("=")[0]), [
    "--no-prompt",
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
    "--unstable-net",
  ]);
  for (const f of flags) {
    assert(f === "--no-prompt" || f === "--unstable-net" || /^--allow-[a-z]+=./.test(f), f);
    assert(!["-A", "--allow-all", "--allow-run"].some((bad) => f.startsWith(bad)), f);
  }
});

Deno.test("derivePermissions() grants a WAL source's absolute password_file, not more", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vigil-perm-" });
  try {
    await Deno.writeTextFile(`${dir}/pg-password`, "secret\n");
    const p = derivePermissions(
      config(
        '[[sources]]\nname = "a"\ntype = "wal"\ndsn = "postgres://vigil@db1:5432/x"\n' +
          `slot = "s"\npublication = "p"\npassword_file = "${dir}/pg-password"\n`,
      ),
      INSTALL,
    );
    assert(p.read.includes(`${dir}/pg-password`), "the password file is readable");
    assert(!p.read.includes(dir), "its directory is not");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
