/**
 * The .deb as installed: built by scripts/package.sh, unpacked with `dpkg -x` into a scratch
 * root, and run from there — `vigil --version`, the default config, `vigil serve` answering
 * /healthz with Deno permissions derived from the config (never -A), readiness and watchdog
 * over $NOTIFY_SOCKET as systemd would see them, and what happens when the daemon reaches
 * outside the derived permissions: a source added by a reload fails with a logged NotCapable
 * error while the daemon keeps serving, and a listen address that was not granted stops
 * `serve` with a one-line error and exit code 3. Every Worker the code starts is in the package,
 * and `vigil reindex`'s and a proxy source's run from it.
 */

import denoJson from "../../deno.json" with { type: "json" };
import { ROW_GROUP_ROWS } from "../../daemon/export/parquet_props.ts";
import { assert, assertEquals, assertEventually, assertMatch } from "../support/assert.ts";
import { eventLines } from "../support/cli.ts";
import {
  buildAndInstall,
  freePort,
  healthz,
  output,
  start,
  stop,
  testConfig,
  waitForLine,
} from "./_installed.ts";

Deno.test("the .deb installs a vigil that serves with derived permissions", async (t) => {
  const inst = await buildAndInstall();
  try {
    await t.step(
      "its control file names the dependencies and the config as a conffile",
      async () => {
        const fields = await output("dpkg-deb", ["-f", inst.deb, "Package", "Version", "Depends"]);
        assertEquals(
          fields.stdout.trim().split("\n"),
          ["Package: vigil", `Version: ${denoJson.version}`, "Depends: libc6, libssl3"],
        );
        const conffiles = await output("dpkg-deb", ["-I", inst.deb, "conffiles"]);
        assertEquals(conffiles.stdout.trim(), "/etc/vigil/vigil.toml");
        for (
          const path of [
            "usr/bin/vigil",
            "usr/lib/vigil/deno",
            "usr/lib/vigil/vigil.js",
            "usr/lib/vigil/hash_worker.ts",
            "usr/lib/vigil/verify_worker.ts",
            "usr/lib/vigil/parquet_worker.ts",
            "usr/lib/vigil/parquet_wasm_bg.wasm",
            "usr/lib/vigil/libvigil_hash.so",
            "lib/systemd/system/vigil.service",
            "usr/lib/sysusers.d/vigil.conf",
            "etc/vigil/vigil.toml",
            "usr/share/doc/vigil/README.md",
          ]
        ) await Deno.stat(`${inst.root}/${path}`);
      },
    );

    await t.step("the installed vigil --version prints the version", async () => {
      const r = await output(inst.vigil, ["--version"]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim(), `vigil ${denoJson.version}`);
    });

    await t.step("the installed default config validates", async () => {
      const r = await output(inst.vigil, [
        "validate",
        "--config",
        `${inst.root}/etc/vigil/vigil.toml`,
      ]);
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assertMatch(r.stdout, /ok — data_dir \/var\/lib\/vigil, listen 127\.0\.0\.1:8443/);
    });

    await t.step(
      "the installed vigil ingests, exports Parquet and verifies the bundle",
      async () => {
        // The bundle finds parquet-wasm's .wasm and its hashing Worker beside vigil.js; with
        // more than a row group in one file, the export encodes on its Parquet Worker too.
        const data = `${inst.work}/cli-data`;
        const events = eventLines(ROW_GROUP_ROWS + 20);
        const ingest = new Deno.Command(inst.vigil, {
          args: ["ingest", "--data", data, "--source", "demo"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = ingest.stdin.getWriter();
        await w.write(new TextEncoder().encode(events));
        await w.close();
        const done = await ingest.output();
        assertEquals(done.code, 0, new TextDecoder().decode(done.stderr));
        const bundle = `${inst.work}/cli-bundle`;
        const ex = await output(inst.vigil, ["export", "--data", data, "--out", bundle]);
        assertEquals(ex.code, 0, ex.stderr);
        assertMatch(ex.stdout, new RegExp(`^exported ${ROW_GROUP_ROWS + 20} events`));
        const vb = await output(inst.vigil, ["verify-bundle", bundle]);
        assertEquals(vb.code, 0, vb.stdout + vb.stderr);
        assertMatch(vb.stdout, new RegExp(`^OK: ${ROW_GROUP_ROWS + 20} events`));
        // Over 50k events behind, `vigil reindex` reads the log on its Worker.
        const ri = await output(inst.vigil, ["reindex", "--data", data]);
        assertEquals(ri.code, 0, ri.stdout + ri.stderr);
        assertEquals(ri.stdout.trim(), `reindexed ${ROW_GROUP_ROWS + 20} events`);
      },
    );

    await t.step("every Worker the code starts is in the package", async () => {
      const started = await workersStarted();
      assert(started.length >= 6, started.join(", "));
      for (const name of started) await Deno.stat(`${inst.root}/usr/lib/vigil/${name}`);
    });

    await t.step("a proxy source forwards from its Worker in the installed serve", async () => {
      const port = freePort();
      const proxyPort = freePort();
      const config = `${inst.work}/proxy.toml`;
      await Deno.writeTextFile(
        config,
        testConfig(
          `${inst.work}/proxy-data`,
          port,
          `[[sources]]\nname = "px"\ntype = "proxy"\nlisten = "127.0.0.1:${proxyPort}"\n` +
            `upstream = "postgres://127.0.0.1:${freePort()}/?sslmode=disable"\n`,
        ),
      );
      const r = start(inst.vigil, ["serve", "--config", config]);
      try {
        await waitForLine(r, /"msg":"vigil serving"/);
        // No server listens upstream: the proxy's Worker answers the client's startup with
        // an ErrorResponse of class 08 (connection exception).
        const reply = await assertEventually(async () => {
          try {
            return await startupReply(proxyPort);
          } catch {
            return false;
          }
        });
        assertEquals(String.fromCharCode(reply[0]!), "E", "an ErrorResponse");
        assertMatch(new TextDecoder().decode(reply), /C08\d{3}\0/);
        assert(!r.lines.some((l) => l.includes("its thread failed")), r.lines.join("\n"));
        r.child.kill("SIGTERM");
        assertEquals(await r.exited, 0);
      } finally {
        await stop(r);
      }
    });

    await t.step("serve with a config that does not check out exits 1 with one line", async () => {
      const config = `${inst.work}/bad.toml`;
      await Deno.writeTextFile(
        config,
        testConfig(`${inst.work}/bad-data`, freePort(), "colour = 1\n"),
      );
      const r = await output(inst.vigil, ["serve", "--config", config]);
      assertEquals(r.code, 1, r.stdout + r.stderr);
      assertEquals(r.stdout, "");
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, r.stderr);
      assertMatch(
        lines[0]!,
        /^vigil serve: cannot derive permissions from .*bad\.toml: invalid config: .*colour: unknown key/,
      );
    });

    await t.step("vigil serve answers /healthz 200 and stops cleanly on SIGTERM", async () => {
      const port = freePort();
      const config = `${inst.work}/serve.toml`;
      await Deno.writeTextFile(config, testConfig(`${inst.work}/serve-data`, port));
      const r = start(inst.vigil, ["serve", "--config", config]);
      try {
        await waitForLine(r, /"msg":"vigil serving"/);
        const h = await healthz(port);
        assertEquals(h.status, 200, JSON.stringify(h.body));
        assertEquals(h.body.status, "ok");
        // The launcher exec'd Deno with the derived flags: look at what actually runs.
        const argv = (await Deno.readTextFile(`/proc/${r.child.pid}/cmdline`)).split("\0");
        assert(argv.includes(`--allow-net=127.0.0.1:${port}`), argv.join(" "));
        assert(argv.includes(`--allow-write=${inst.work}/serve-data`), argv.join(" "));
        assert(!argv.some((a) => a === "-A" || a === "--allow-all" || a === "--allow-run"));
        // The store hashes through the shipped native library, not the JavaScript fallback.
        const maps = await Deno.readTextFile(`/proc/${r.child.pid}/maps`);
        assert(maps.includes(`${inst.root}/usr/lib/vigil/libvigil_hash.so`), "native lib loaded");
        r.child.kill("SIGTERM");
        assertEquals(await r.exited, 0);
        await waitForLine(r, /"msg":"vigil stopped"/);
      } finally {
        await stop(r);
      }
    });

    await t.step("under systemd it sends READY=1, WATCHDOG=1 and STOPPING=1", async () => {
      const port = freePort();
      const config = `${inst.work}/notify.toml`;
      const runtime = `${inst.work}/run`;
      const socket = `${inst.work}/systemd-notify.sock`;
      await Deno.mkdir(runtime);
      await Deno.writeTextFile(config, testConfig(`${inst.work}/notify-data`, port));
      // systemd's end of the socket: a unix datagram receiver printing what it gets.
      const receiver = start(Deno.execPath(), [
        "eval",
        "--unstable-net",
        `const c = Deno.listenDatagram({ transport: "unixpacket", path: ${
          JSON.stringify(socket)
        } });
         console.log("bound");
         for (;;) { const [d] = await c.receive(); console.log(JSON.stringify(new TextDecoder().decode(d))); }`,
      ]);
      let daemon;
      try {
        await waitForLine(receiver, /^bound$/);
        daemon = start(inst.vigil, ["serve", "--config", config], {
          NOTIFY_SOCKET: socket,
          RUNTIME_DIRECTORY: runtime,
          WATCHDOG_USEC: "200000",
        });
        const ready = await waitForLine(receiver, /READY=1/);
        assertEquals(
          JSON.parse(ready),
          `READY=1\nSTATUS=serving on 127.0.0.1:${port}\nMAINPID=${daemon.child.pid}`,
        );
        await waitForLine(receiver, /^"WATCHDOG=1"$/);
        assertEquals((await healthz(port)).status, 200);
        daemon.child.kill("SIGTERM");
        await waitForLine(receiver, /^"STOPPING=1"$/);
        assertEquals(await daemon.exited, 0);
        // Its own end of the socket was unlinked once bound: nothing is left in the directory.
        assertEquals([...Deno.readDirSync(runtime)], []);
      } finally {
        if (daemon) await stop(daemon);
        await stop(receiver);
      }
    });

    await t.step(
      "a source added by a reload beyond the derived permissions fails with NotCapable",
      async () => {
        const port = freePort();
        const dbPort = freePort();
        const config = `${inst.work}/reload.toml`;
        const data = `${inst.work}/reload-data`;
        await Deno.writeTextFile(config, testConfig(data, port));
        const r = start(inst.vigil, ["serve", "--config", config]);
        try {
          await waitForLine(r, /"msg":"vigil serving"/);
          // The admin adds a database and a log directory and reloads, without a restart: the
          // running daemon keeps the permissions it was started with.
          await Deno.mkdir(`${inst.work}/pglog`);
          await Deno.writeTextFile(
            config,
            testConfig(
              data,
              port,
              `[[sources]]\nname = "late-db"\ntype = "wal"\ndsn = "postgres://vigil@127.0.0.1:${dbPort}/x"\n` +
                'slot = "vigil_late"\npublication = "vigil_late"\n\n' +
                `[[sources]]\nname = "late-log"\ntype = "pgaudit"\npath = "${inst.work}/pglog/*.csv"\n` +
                'format = "csvlog"\n',
            ),
          );
          r.child.kill("SIGHUP");
          await waitForLine(r, /"msg":"configuration reloaded"/);
          const net = await waitForLine(r, /"source":"late-db".*NotCapable: Requires net access/);
          assertMatch(
            net,
            new RegExp(`Requires net access to \\\\"127\\.0\\.0\\.1:${dbPort}\\\\"`),
          );
          await waitForLine(r, /"source":"late-log".*NotCapable: Requires read access/);
          const h = await assertEventually(async () => {
            const res = await healthz(port);
            return res.body.sources.length === 2 && res.body.sources.every((s) => !s.healthy) &&
              res;
          });
          assertEquals(h.status, 503, "degraded while sources fail");
          assertEquals(h.body.status, "degraded");
          r.child.kill("SIGTERM");
          assertEquals(await r.exited, 0, "the daemon itself kept running and stops cleanly");
        } finally {
          await stop(r);
        }
      },
    );

    await t.step(
      "serve with flags derived before the listen address changed exits 3, one line",
      async () => {
        const config = `${inst.work}/edited.toml`;
        const data = `${inst.work}/edited-data`;
        await Deno.writeTextFile(config, testConfig(data, freePort()));
        const p = await output(inst.vigil, ["permissions", "--config", config]);
        assertEquals(p.code, 0, p.stdout + p.stderr);
        const flags = p.stdout.trim().split("\n");
        // The config is edited after the flags were derived; Deno is started with the old ones.
        const otherPort = freePort();
        await Deno.writeTextFile(config, testConfig(data, otherPort));
        const lib = `${inst.root}/usr/lib/vigil`;
        const r = await output(`${lib}/deno`, [
          "run",
          "--no-config",
          ...flags,
          `${lib}/vigil.js`,
          "serve",
          "--config",
          config,
        ]);
        const errors = r.stderr.trim().split("\n").filter((l) => !l.startsWith("{"));
        assertEquals(r.code, 3, r.stderr);
        assertEquals(errors.length, 1, r.stderr);
        assertMatch(
          errors[0]!,
          new RegExp(`^vigil serve: Requires net access to "127\\.0\\.0\\.1:${otherPort}"`),
        );
      },
    );
  } finally {
    await inst.cleanup();
  }
});

/**
 * The file names of the Workers that `daemon/`, `plugins/` and `web/` start, found in the
 * sources independently of the package script: every `new Worker(` must name a file beside it.
 */
async function workersStarted(): Promise<string[]> {
  const root = new URL("../../", import.meta.url).pathname;
  const names = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/new Worker\(([^)]*\))?/g)) {
          const named = /^new URL\("\.\/([A-Za-z0-9_]+\.ts)", import\.meta\.url\)$/.exec(
            m[1] ?? "",
          );
          assert(named, `${path}: a Worker the package cannot find: ${m[0]}`);
          names.add(named[1]!);
        }
      }
    }
  };
  for (const dir of ["daemon", "plugins", "web"]) await walk(`${root}${dir}`);
  return [...names].sort();
}

/** Sends a StartupMessage to a loopback port and returns the first bytes of the reply. */
async function startupReply(port: number): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const enc = new TextEncoder();
    const params = enc.encode("user\0alice\0database\0db\0\0");
    const msg = new Uint8Array(8 + params.length);
    const view = new DataView(msg.buffer);
    view.setInt32(0, msg.length);
    view.setInt32(4, 196608);
    msg.set(params, 8);
    await conn.write(msg);
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    if (n === null) throw new Error("the proxy closed the connection without a reply");
    return buf.slice(0, n);
  } finally {
    conn.close();
  }
}
