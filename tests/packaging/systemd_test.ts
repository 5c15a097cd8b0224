/**
 * The systemd files as systemd's own tools read them, offline (no systemd as PID 1 needed):
 * `systemd-analyze verify` finds nothing to complain about, `systemd-analyze security` scores
 * the unit's exposure at 2.0 or less (the score is printed for CI's log), and
 * `systemd-sysusers` creates the service's user from the shipped snippet.
 *
 * `verify` checks that ExecStart='s binary exists and is executable; the unit names the
 * installed /usr/bin/vigil, so it is verified as a temporary copy pointing at the launcher in
 * this checkout (scripts/package/vigil, the file the package installs there).
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const UNIT = `${ROOT}/systemd/vigil.service`;

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-systemd-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vigil.service passes systemd-analyze verify without a warning", async () => {
  await withTemp(async (dir) => {
    const text = await Deno.readTextFile(UNIT);
    assert(text.includes("/usr/bin/vigil serve --config /etc/vigil/vigil.toml"));
    const copy = `${dir}/vigil.service`;
    await Deno.writeTextFile(
      copy,
      text.replaceAll("/usr/bin/vigil ", `${ROOT}/scripts/package/vigil `),
    );
    const r = await run("systemd-analyze", ["verify", copy]);
    console.log(`systemd-analyze verify: exit ${r.code}${r.out.trim() ? `\n${r.out}` : ""}`);
    assertEquals(r.code, 0, r.out);
    assertEquals(r.out.trim(), "", "no warnings");
  });
});

Deno.test("vigil.service has a systemd-analyze security exposure of 2.0 or less", async () => {
  const r = await run("systemd-analyze", ["security", "--offline=true", UNIT]);
  const m = /Overall exposure level for vigil\.service: (\d+\.\d+)/.exec(r.out);
  assert(m !== null, `no exposure score in:\n${r.out}`);
  const score = Number(m[1]);
  console.log(`vigil.service exposure score: ${score} (systemd-analyze security --offline=true)`);
  assert(score <= 2.0, `exposure ${score} is above 2.0:\n${r.out}`);
  // The settings the unit promises, as systemd reads them.
  for (
    const line of [
      /✓ ProtectSystem=\s+Service has strict read-only access/,
      /✓ NoNewPrivileges=/,
      /✓ RestrictNamespaces=~user/,
      /✓ CapabilityBoundingSet=~CAP_SYS_ADMIN/,
      /✓ UMask=/,
    ]
  ) assertMatch(r.out, line);
});

Deno.test("vigil.service keeps V8's JIT working and runs the config check before start", async () => {
  const text = await Deno.readTextFile(UNIT);
  const settings = text.split("\n").filter((l) => !l.startsWith("#"));
  assert(!settings.some((l) => l.startsWith("MemoryDenyWriteExecute=")), "no W^X for V8");
  for (
    const want of [
      "Type=notify",
      "NotifyAccess=main",
      "ExecStartPre=/usr/bin/vigil validate --config /etc/vigil/vigil.toml",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "User=vigil",
      "StateDirectory=vigil",
      "ConfigurationDirectory=vigil",
      "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
      "ReadOnlyPaths=-/var/log/postgresql",
    ]
  ) assert(settings.includes(want), `missing ${want}`);
});

Deno.test("vigil.sysusers creates the vigil user and group with systemd-sysusers", async () => {
  await withTemp(async (dir) => {
    await Deno.mkdir(`${dir}/etc`);
    const r = await run("systemd-sysusers", [`--root=${dir}`, `${ROOT}/systemd/vigil.sysusers`]);
    assertEquals(r.code, 0, r.out);
    assertMatch(
      await Deno.readTextFile(`${dir}/etc/passwd`),
      /^vigil:x:\d+:\d+:Vigil audit appliance:\/var\/lib\/vigil:\/usr\/sbin\/nologin$/m,
    );
    assertMatch(await Deno.readTextFile(`${dir}/etc/group`), /^vigil:x:\d+:/m);
  });
});
