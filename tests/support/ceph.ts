/**
 * A throwaway single-node Ceph RADOS Gateway for tests: one monitor, one OSD on memstore,
 * radosgw and an S3 user, in a temporary directory, on free loopback ports, without systemd or
 * a manager. Starts in about two seconds. `stop()` (or `await using`) kills every daemon it
 * started and removes the directory, also when the test failed; an unload handler does the same
 * if the test process ends first. Adapted from the shared recipe `ceph-rgw-up.sh`.
 *
 * The settings that matter: `paxos propose interval = 0.05` (else ~13 s to start and 2 s per new
 * pool), `tcp_nodelay=1` on the beast frontend (else ~44 ms a request), and the OSD key
 * registered with `ceph osd new` so that mkfs needs no monitor.
 *
 * @example
 * await using rgw = await startCephRgw();
 * const s3 = new S3Client({ ...rgw.s3, bucket: "b" });
 */

import type { S3Config } from "../../daemon/export/s3_client.ts";
import { freePort } from "./ports.ts";

/** A running gateway. */
export interface CephRgw extends AsyncDisposable {
  endpoint: string;
  /** Everything an S3 client needs but the bucket. */
  s3: Omit<S3Config, "bucket">;
  dir: string;
  /** Process ids of the monitor, the OSD and the gateway. */
  pids: number[];
  /** Milliseconds from the first command to an answering, keyed gateway. */
  startMs: number;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const ACCESS_KEY = "VIGILTESTACCESSKEY01";
const SECRET_KEY = "vigiltestsecretkey00000000000000000000001";

/** True when the Ceph daemons are installed; tests that need them say so when they are not. */
export function cephInstalled(): boolean {
  for (const bin of ["radosgw", "ceph-mon", "ceph-osd", "radosgw-admin", "ceph-authtool"]) {
    try {
      Deno.statSync(`/usr/bin/${bin}`);
    } catch {
      return false;
    }
  }
  return true;
}

/** The message a test prints when it cannot run. */
export const CEPH_MISSING =
  "Ceph RGW is not installed (apt-get install --no-install-recommends ceph-mon ceph-osd radosgw)";

/** Starts a gateway; throws with the daemons' log place if it does not come up. */
export async function startCephRgw(): Promise<CephRgw> {
  const t0 = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "vigil-ceph-" });
  const children: Deno.ChildProcess[] = [];
  const killAll = () => {
    for (const c of children.reverse()) {
      try {
        c.kill("SIGKILL"); // throwaway data: no clean memstore dump needed
      } catch { /* already gone */ }
    }
  };
  const onUnload = () => {
    killAll();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* best effort at exit */ }
  };
  globalThis.addEventListener("unload", onUnload);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    globalThis.removeEventListener("unload", onUnload);
    killAll();
    await Promise.all(children.map((c) => c.status.catch(() => {})));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const monPort = freePort(), rgwPort = freePort();
    for (const d of ["mon/a", "osd/0", "run", "log", "rgw", "crash"]) {
      await Deno.mkdir(`${dir}/${d}`, { recursive: true });
    }
    const conf = `${dir}/ceph.conf`;
    const fsid = crypto.randomUUID();
    await Deno.writeTextFile(conf, cephConf({ dir, fsid, monPort, rgwPort }));
    const env = { CEPH_CONF: conf };
    const run = (cmd: string, args: string[]) => runCmd(cmd, args, env);
    const spawn = (cmd: string, args: string[]) => {
      const c = new Deno.Command(cmd, { args, env, stdin: "null", stdout: "null", stderr: "null" })
        .spawn();
      children.push(c);
      return c;
    };
    const keyring = `${dir}/keyring`;
    await run("ceph-authtool", [
      "--create-keyring",
      keyring,
      "--gen-key",
      "-n",
      "mon.",
      "--cap",
      "mon",
      "allow *",
    ]);
    await run("ceph-authtool", [
      keyring,
      "--gen-key",
      "-n",
      "client.admin",
      "--cap",
      "mon",
      "allow *",
      "--cap",
      "osd",
      "allow *",
      "--cap",
      "mgr",
      "allow *",
    ]);
    await run("monmaptool", [
      "--create",
      "--fsid",
      fsid,
      "--addv",
      "a",
      `[v2:${HOST}:${monPort}]`,
      `${dir}/monmap`,
    ]);
    await run("ceph-mon", ["--mkfs", "-i", "a", "--monmap", `${dir}/monmap`, "--keyring", keyring]);
    spawn("ceph-mon", ["-f", "-i", "a"]);
    await waitFor(
      "the monitor",
      dir,
      () => ok("ceph", ["--connect-timeout", "2", "mon", "stat"], env),
    );

    const osdUuid = crypto.randomUUID();
    const osdKey = (await run("ceph-authtool", ["--gen-print-key"])).trim();
    await Deno.writeTextFile(`${dir}/osd-secret.json`, JSON.stringify({ cephx_secret: osdKey }));
    const osdId = (await run("ceph", ["osd", "new", osdUuid, "-i", `${dir}/osd-secret.json`]))
      .trim();
    await run("ceph-authtool", [
      "--create-keyring",
      `${dir}/osd/${osdId}/keyring`,
      "-n",
      `osd.${osdId}`,
      "--add-key",
      osdKey,
    ]);
    await run("ceph-osd", ["-i", osdId, "--mkfs", "--no-mon-config", "--osd-uuid", osdUuid]);
    spawn("ceph-osd", ["-f", "-i", osdId]);
    await waitFor("the OSD", dir, async () => {
      const out = await runCmd("ceph", ["osd", "dump"], env).catch(() => "");
      return new RegExp(`^osd\\.${osdId} up`, "m").test(out);
    });

    const rgwKey = await run("ceph", [
      "auth",
      "get-or-create",
      "client.rgw.a",
      "mon",
      "allow rw",
      "osd",
      "allow rwx",
      "mgr",
      "allow rw",
    ]);
    await Deno.writeTextFile(keyring, rgwKey, { append: true });
    spawn("radosgw", ["-f", "-n", "client.rgw.a"]);
    const endpoint = `http://${HOST}:${rgwPort}`;
    await waitFor("radosgw", dir, async () => {
      try {
        const res = await fetch(`${endpoint}/`);
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    });
    await run("radosgw-admin", [
      "user",
      "create",
      "--uid=test",
      "--display-name=test",
      `--access-key=${ACCESS_KEY}`,
      `--secret-key=${SECRET_KEY}`,
    ]);
    return {
      endpoint,
      s3: { endpoint, region: "us-east-1", accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      dir,
      pids: children.map((c) => c.pid),
      startMs: performance.now() - t0,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    const logs = await tailLogs(dir);
    await stop();
    throw new Error(`Cannot start Ceph RGW: ${(e as Error).message}\n${logs}`, { cause: e });
  }
}

function cephConf(o: { dir: string; fsid: string; monPort: number; rgwPort: number }): string {
  const d = o.dir;
  return `[global]
fsid = ${o.fsid}
mon host = v2:${HOST}:${o.monPort}
mon initial members = a
public addr = ${HOST}
# else the OSD's cluster and heartbeat messengers listen on every interface
cluster addr = ${HOST}
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = ${d}/keyring
run dir = ${d}/run
admin socket = ${d}/run/$name.asok
pid file = ${d}/run/$name.pid
log file = ${d}/log/$name.log
mon cluster log file = ${d}/log/$cluster.$channel.log
crash dir = ${d}/crash
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool delete = true
mon allow pool size one = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.05
paxos min wait = 0.01
[mon]
mon data = ${d}/mon/$id
[osd]
osd data = ${d}/osd/$id
keyring = ${d}/osd/$id/keyring
osd objectstore = memstore
memstore device bytes = 2147483648
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw.a]
rgw frontends = beast endpoint=${HOST}:${o.rgwPort} tcp_nodelay=1
rgw data = ${d}/rgw
rgw dns name = localhost
rgw thread pool size = 64
`;
}

async function runCmd(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${err || text}`);
  }
  return text;
}

async function ok(cmd: string, args: string[], env: Record<string, string>): Promise<boolean> {
  return (await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "null", stderr: "null" })
    .output()).success;
}

async function waitFor(what: string, dir: string, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (logs in ${dir}/log)`);
}

async function tailLogs(dir: string): Promise<string> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/log`)) {
      const text = await Deno.readTextFile(`${dir}/log/${e.name}`).catch(() => "");
      out.push(`--- ${e.name}\n${text.split("\n").slice(-15).join("\n")}`);
    }
  } catch { /* no logs yet */ }
  return out.join("\n");
}
