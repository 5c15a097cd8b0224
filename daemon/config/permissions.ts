/**
 * The Deno permissions `vigil serve` needs for one configuration, and not one more: what the
 * shipped launcher passes to `deno run` instead of `-A`. Everything the daemon touches is named
 * by the config (data dir, TLS files, log globs, database and S3 endpoints, export dirs) or by
 * the installation (the bundled app, the native hashing library, OpenSSL, systemd's sockets
 * and credentials directory), so it can all be listed before the daemon starts. A config
 * edited later that reaches further is refused by Deno at the point of use (NotCapable), which
 * the supervisor logs as a failing source; restarting through the launcher derives anew.
 *
 * The core knows no plugin (DESIGN.md): each source's plugin, from the registry it is handed,
 * says what its table reaches (`SourcePlugin.reach`, the same answer the config check fences
 * with); the `[[exports]]` targets and `[detect]` alert channels are the core's own, read by
 * their documented keys, and a type without a rule is an error rather than a guess. No source is ever granted a read inside the data directory (save its own secret file
 * in `secrets/`): the daemon may read it, a source may not (`data_fence.ts`).
 *
 * @example
 * permissionFlags(derivePermissions(config, { appDir: "/usr/lib/vigil", ... }))
 * // ["--allow-read=/var/lib/vigil,/etc/vigil/vigil.toml,…", "--allow-write=/var/lib/vigil", …]
 */

import type { NamedTable, VigilConfig } from "./config.ts";
import { findSourcePlugin, type SourcePlugin } from "../source.ts";
import { fenceSource, hostPort } from "./source_paths.ts";

/** Where the installation keeps what the daemon loads, and systemd's per-run paths. */
export interface InstallContext {
  /** The source plugins the installation ships: the registry, `plugins/mod.ts`. */
  sources: readonly SourcePlugin[];
  /** The directory of the bundled application (vigil.js, its workers, parquet-wasm's .wasm). */
  appDir: string;
  /** The store's native hashing library, or null when it is not installed. */
  nativeLib: string | null;
  /** OpenSSL's libcrypto, the store's SHA-256 without the native library. */
  libcrypto: string;
  /** systemd's `$CREDENTIALS_DIRECTORY`, where relative key files are looked up. */
  credentialsDir?: string | null;
  /** systemd's `$NOTIFY_SOCKET`: readiness and watchdog (daemon/serve/notify.ts). */
  notifySocket?: string | null;
  /** systemd's `$RUNTIME_DIRECTORY`, where the daemon binds its end of the notify socket. */
  runtimeDir?: string | null;
}

/** The permission lists of one `deno run`. */
export interface DenoPermissions {
  read: string[];
  write: string[];
  net: string[];
  env: string[];
  ffi: string[];
  sys: string[];
  /** `--unstable-*` features needed (sd_notify's unix datagrams). */
  unstable: string[];
}

/**
 * The environment variables the daemon reads (grep `Deno.env` in daemon/): its own two
 * switches and what systemd hands a service.
 */
export const DAEMON_ENV: readonly string[] = [
  "VIGIL_NATIVE_LIB",
  "VIGIL_SHA256",
  "CREDENTIALS_DIRECTORY",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "RUNTIME_DIRECTORY",
];

type Table = Readonly<Record<string, unknown>>;
interface Access {
  read?: string[];
  write?: string[];
  net?: string[];
}

/** Derives the permissions; throws `TypeError` for what cannot be granted exactly. */
export function derivePermissions(config: VigilConfig, ctx: InstallContext): DenoPermissions {
  const read = new Set<string>([config.dataDir, config.file, ctx.appDir, ctx.libcrypto]);
  const write = new Set<string>([config.dataDir]);
  const net = new Set<string>([hostPort(config.web.listen.hostname, config.web.listen.port)]);
  const ffi = new Set<string>([ctx.libcrypto]);
  const unstable: string[] = [];
  if (ctx.nativeLib) {
    read.add(ctx.nativeLib);
    ffi.add(ctx.nativeLib);
  }
  if (config.web.tlsCert !== null) read.add(config.web.tlsCert);
  if (config.web.tlsKey !== null) read.add(config.web.tlsKey);
  const add = (a: Access): void => {
    for (const p of a.read ?? []) read.add(p);
    for (const p of a.write ?? []) write.add(p);
    for (const p of a.net ?? []) net.add(p);
  };
  for (const source of config.sources) {
    const plugin = findSourcePlugin(ctx.sources, source.type);
    const reach = plugin.reach(source.table);
    // The config check refused this already; a grant is never made on trust of that.
    fenceSource(plugin, source.table, [config.dataDir]);
    add({ read: reach.read.map((r) => r.path), write: reach.write, net: reach.net });
  }
  for (const target of config.exports) add(exportAccess(target, ctx.credentialsDir ?? null));
  if (config.detect !== null) add(alertChannelAccess(config.detect));
  if (ctx.credentialsDir) read.add(ctx.credentialsDir);
  if (ctx.notifySocket && ctx.notifySocket.startsWith("/")) {
    const bind = `${(ctx.runtimeDir?.split(":")[0] || config.dataDir).replace(/\/+$/, "")}` +
      "/notify.sock";
    net.add(`unix:${ctx.notifySocket}`);
    net.add(`unix:${bind}`);
    // Binding a unix socket, or sending to one, needs read and write on its path as well.
    for (const path of [ctx.notifySocket, bind]) {
      read.add(path);
      write.add(path);
    }
    unstable.push("net");
  }
  const lists = { read, write, net, ffi };
  for (const [kind, set] of Object.entries(lists)) {
    for (const item of set) {
      if (item.includes(",")) {
        throw new TypeError(
          `cannot grant --allow-${kind} to ${JSON.stringify(item)}: Deno separates entries ` +
            "with commas, so a path or host may not contain one",
        );
      }
    }
  }
  return {
    read: [...read],
    write: [...write],
    net: [...net],
    env: [...DAEMON_ENV],
    ffi: [...ffi],
    sys: ["statfs"],
    unstable,
  };
}

/** The `deno run` flags of a permission set, one argument each; never `-A`. */
export function permissionFlags(p: DenoPermissions): string[] {
  const flags = [
    "--no-prompt",
    `--allow-read=${p.read.join(",")}`,
    `--allow-write=${p.write.join(",")}`,
    `--allow-net=${p.net.join(",")}`,
    `--allow-env=${p.env.join(",")}`,
    `--allow-ffi=${p.ffi.join(",")}`,
    `--allow-sys=${p.sys.join(",")}`,
  ];
  for (const u of p.unstable) flags.push(`--unstable-${u}`);
  return flags;
}

/** What an `[[exports]]` target reaches: its directory, or its endpoint and key files. */
function exportAccess(target: NamedTable, credentialsDir: string | null): Access {
  const t = target.table;
  if (target.type === "dir") {
    const path = String(t.path);
    return { read: [path], write: [path] };
  }
  if (target.type === "s3") {
    const url = new URL(String(t.endpoint));
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    // A relative key file is looked up in $CREDENTIALS_DIRECTORY (daemon/export/target.ts).
    const keyFile = (k: string): string => {
      const f = String(t[k]);
      return f.startsWith("/") || !credentialsDir ? f : `${credentialsDir}/${f}`;
    };
    return {
      net: [hostPort(host, port)],
      read: [keyFile("access_key_file"), keyFile("secret_key_file")],
    };
  }
  throw new TypeError(
    `exports "${target.name}": type "${target.type}" has no permission rule in ` +
      "daemon/config/permissions.ts",
  );
}

/** The addresses of the `[detect]` alert channels (see daemon/detect/config.ts). */
function alertChannelAccess(detect: Table): Access {
  const net: string[] = [];
  const sub = (k: string): Table | null => {
    const v = detect[k];
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v as Table : null;
  };
  const syslog = sub("syslog");
  if (syslog !== null) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(String(syslog.address));
    if (m === null) throw new TypeError("detect.syslog.address: expected host:port");
    net.push(hostPort(m[1]!, Number(m[2])));
    // node:dgram binds its sending socket to the wildcard address and an ephemeral port first.
    if ((syslog.transport ?? "udp") === "udp") {
      net.push(m[1]!.includes(":") ? "[::]:0" : "0.0.0.0:0");
    }
  }
  const webhook = sub("webhook");
  if (webhook !== null) {
    const url = new URL(String(webhook.url));
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    net.push(hostPort(url.hostname.replace(/^\[|\]$/g, ""), port));
  }
  const smtp = sub("smtp");
  const read: string[] = [];
  if (smtp !== null) {
    net.push(hostPort(String(smtp.host), Number(smtp.port ?? 25)));
    // The CA file, and an absolute password file (a credential name lies in the granted dir).
    for (const k of ["ca_file", "password_file"]) {
      if (typeof smtp[k] === "string" && smtp[k].startsWith("/")) read.push(smtp[k]);
    }
  }
  return { net, read };
}
