/**
 * The settings `vigil serve` is started with for its memory (`daemon/serve/process_settings.ts`)
 * are the ones every launcher applies: the packaged `vigil` command (its `serve` branch, as a
 * default the environment can override) and the systemd unit (its Environment=), so that what
 * `vigil bench scale` measures — its `serve` children take them from that module — is what ships.
 * And the packaged launcher really starts `serve` with them, and `export` with its V8 flags: run
 * with a stand-in for Deno that prints its environment and arguments.
 */

import { EXPORT_V8_FLAGS, SERVE_ENV, SERVE_V8_FLAGS } from "../../daemon/serve/process_settings.ts";
import { assert, assertEquals } from "../support/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("the systemd unit sets the allocator's environment of process_settings.ts", async () => {
  const unit = await Deno.readTextFile(`${ROOT}/systemd/vigil.service`);
  const set = new Map<string, string>();
  for (const m of unit.matchAll(/^Environment=(.*)$/gm)) {
    for (const kv of m[1]!.trim().split(/\s+/)) {
      const i = kv.indexOf("=");
      set.set(kv.slice(0, i), kv.slice(i + 1));
    }
  }
  for (const [k, v] of Object.entries(SERVE_ENV)) assertEquals(set.get(k), v, k);
});

/** What the packaged launcher runs for `args`: the environment and arguments of a stand-in Deno. */
async function launched(args: string[]): Promise<{ text: string; argv: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-launcher-test-" });
  try {
    // The installed layout: bin/vigil beside lib/vigil/{deno,vigil.js}.
    await Deno.mkdir(`${dir}/bin`);
    await Deno.mkdir(`${dir}/lib/vigil`, { recursive: true });
    await Deno.copyFile(`${ROOT}/scripts/package/vigil`, `${dir}/bin/vigil`);
    await Deno.chmod(`${dir}/bin/vigil`, 0o755);
    await Deno.writeTextFile(`${dir}/lib/vigil/vigil.js`, "");
    // A stand-in for Deno: `permissions` answers one flag; the daemon's exec prints what it got.
    await Deno.writeTextFile(
      `${dir}/lib/vigil/deno`,
      [
        "#!/bin/bash",
        'case " $* " in *" permissions "*) echo --allow-read; exit 0;; esac',
        'for k in MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_; do echo "env $k=${!k}"; done',
        'for a in "$@"; do echo "arg $a"; done',
        "",
      ].join("\n"),
    );
    await Deno.chmod(`${dir}/lib/vigil/deno`, 0o755);
    const out = await new Deno.Command(`${dir}/bin/vigil`, {
      args: args.map((a) => a.replace("$DIR", dir)),
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, new TextDecoder().decode(out.stderr));
    const argv = text.split("\n").filter((l) => l.startsWith("arg ")).map((l) => l.slice(4));
    return { text, argv };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the packaged launcher starts serve with process_settings.ts's environment and V8 flags", async () => {
  const { text, argv } = await launched(["serve", "--config", "$DIR/vigil.toml"]);
  for (const [k, v] of Object.entries(SERVE_ENV)) {
    assert(text.includes(`env ${k}=${v}\n`), `${k}=${v} not in:\n${text}`);
  }
  assert(argv.includes(SERVE_V8_FLAGS), `${SERVE_V8_FLAGS} not in: ${argv.join(" ")}`);
  assert(argv.indexOf(SERVE_V8_FLAGS) < argv.indexOf("serve"), "a Deno flag, before the script");
});

Deno.test("the packaged launcher starts export, and only export of the other commands, with its V8 flags", async () => {
  const exp = (await launched(["export", "--data", "/d", "--out", "/o"])).argv;
  assert(exp.includes(EXPORT_V8_FLAGS), `${EXPORT_V8_FLAGS} not in: ${exp.join(" ")}`);
  assert(exp.indexOf(EXPORT_V8_FLAGS) < exp.indexOf("export"), "a Deno flag, before the script");
  assert(exp.includes("--allow-write"), "export keeps the other commands' permissions");
  const verify = (await launched(["verify", "--data", "/d"])).argv;
  assert(!verify.some((a) => a.startsWith("--v8-flags")), `no V8 flags: ${verify.join(" ")}`);
});
