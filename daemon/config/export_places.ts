/**
 * Where an `[[exports]]` target may point, checked with the rest of the configuration (the
 * file's own targets and those the web UI keeps in `managed.toml`): a `dir` target's `path` is
 * absolute — a relative one would depend on the directory the daemon happens to start in — and
 * outside the data directory, whose files an export would otherwise mix with or overwrite; an
 * `s3` target's `endpoint` is not a link-local or cloud metadata address (169.254.0.0/16,
 * fe80::/10, fd00:ec2::/32 and the providers' metadata names), where a request signed with the
 * export keys would reach the machine's metadata service instead of an object store. Each
 * refusal is a `ConfigKeyError` that carries the key, so the config check names its line.
 */

import { isAbsolute } from "node:path";
import { checkOutsideDataDir } from "./data_fence.ts";
import { ConfigKeyError } from "./fields.ts";

/** Host names of cloud metadata services. */
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

/**
 * Throws `ConfigKeyError` naming the key when an `[[exports]]` table points where a target may not:
 * see the module documentation. `dataDirs` are the configuration's data directories.
 */
export function checkExportPlace(
  table: Readonly<Record<string, unknown>>,
  dataDirs: readonly string[],
): void {
  const at = `exports "${String(table.name)}"`;
  if (table.type === "dir" && typeof table.path === "string") {
    const path = table.path;
    if (!isAbsolute(path)) {
      throw new ConfigKeyError(
        "path",
        `${at}: "path" must be an absolute path, not ${JSON.stringify(path)}: a relative one ` +
          "would depend on the directory the daemon starts in",
      );
    }
    try {
      checkOutsideDataDir(path, { key: "path", where: at, dataDirs });
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      const holder = /inside the data directory (.+?); /.exec(error.message)?.[1];
      throw new ConfigKeyError(
        "path",
        `${at}: "path" ${path} lies inside the data directory${holder ? ` ${holder}` : ""}: ` +
          "exports go outside it, where they cannot mix with or overwrite the store's own files",
      );
    }
  }
  if (table.type === "s3" && typeof table.endpoint === "string") {
    let host: string;
    try {
      host = new URL(table.endpoint).hostname.replace(/^\[|\]$/g, "").toLowerCase();
    } catch {
      return; // Not a URL: the target's own check says so.
    }
    const why = metadataHost(host);
    if (why !== null) {
      throw new ConfigKeyError(
        "endpoint",
        `${at}: "endpoint" ${table.endpoint} is ${why}: requests signed with the export ` +
          "keys would go to the machine's metadata service, not to an object store",
      );
    }
  }
}

/** Why `host` (a name or an IP literal) is a metadata address, or null when it is not. */
export function metadataHost(host: string): string | null {
  const name = host.replace(/\.$/, "");
  if (METADATA_NAMES.has(name)) return "a cloud metadata service name";
  const v4 = ipv4(name) ?? ipv4Mapped(name);
  if (v4 !== null) {
    if (v4[0] === 169 && v4[1] === 254) return "a link-local address (169.254.0.0/16)";
    if (v4.join(".") === "100.100.100.200") return "a cloud metadata address";
    return null;
  }
  const v6 = ipv6(name);
  if (v6 === null) return null;
  if ((v6[0]! & 0xffc0) === 0xfe80) return "a link-local address (fe80::/10)";
  if (v6[0] === 0xfd00 && v6[1] === 0x0ec2) return "a cloud metadata address (fd00:ec2::/32)";
  return null;
}

/** The four octets of a dotted IPv4 literal, or null. */
function ipv4(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** The IPv4 address inside an IPv4-mapped or -compatible IPv6 literal, or null. */
function ipv4Mapped(text: string): number[] | null {
  const v6 = ipv6(text);
  if (v6 === null || v6.slice(0, 5).some((h) => h !== 0)) return null;
  if (v6[5] !== 0xffff && v6[5] !== 0) return null;
  return [v6[6]! >> 8, v6[6]! & 0xff, v6[7]! >> 8, v6[7]! & 0xff];
}

/** The eight 16-bit groups of an IPv6 literal (a dotted IPv4 tail allowed), or null. */
function ipv6(text: string): number[] | null {
  if (!text.includes(":")) return null;
  let s = text.replace(/%.*$/, "");
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  if (tail !== null) {
    const o = ipv4(tail[1]!);
    if (o === null) return null;
    s = s.slice(0, -tail[1]!.length) +
      `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const part = (p: string): number[] | null => {
    if (p === "") return [];
    const groups = p.split(":");
    if (groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
    return groups.map((g) => parseInt(g, 16));
  };
  const head = part(halves[0]!);
  const rest = halves.length === 2 ? part(halves[1]!) : [];
  if (head === null || rest === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - rest.length;
  return fill < 1 ? null : [...head, ...Array(fill).fill(0), ...rest];
}
