/**
 * The SHA-256 the store hashes with, chosen once per process. The store hashes two or three
 * small inputs per record (leaf, chain link, Merkle node), so the cost per call decides its
 * speed: `node:crypto` spends ~3 µs per call in overhead here. When the process may load the
 * system's OpenSSL (`--allow-ffi`), its one-shot `SHA256()` is called through Deno's FFI
 * (~1 µs a call, SHA-NI where the CPU has it) — or, better, our own library's wrapper of
 * OpenSSL's low-level calls, which skips the one-shot call's algorithm lookup; otherwise a
 * plain JavaScript implementation with reusable state is used. Each is checked against
 * `node:crypto` at start.
 */

import { createHash } from "node:crypto";
import { nativeLibraryPath } from "./native_path.ts";
import { sha256JsInto } from "./sha256_js.ts";

/** Hashes `data` into `out[outOff .. outOff + 32)`. */
export type Sha256Into = (data: Uint8Array, out: Uint8Array, outOff: number) => void;

/** Which implementation is in use, for logs and benchmarks. */
export type Sha256Backend = "native" | "openssl-ffi" | "js";

/**
 * Full paths first, so that `--allow-ffi=<path>` can grant exactly this library; bare names
 * last, for other layouts under a broader grant.
 */
const LIBS = [
  "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
  "/usr/lib/aarch64-linux-gnu/libcrypto.so.3",
  "/usr/lib64/libcrypto.so.3",
  "/usr/lib/libcrypto.so.3",
  "libcrypto.so.3",
];

function forcedJs(): boolean {
  try {
    return Deno.env.get("VIGIL_SHA256") === "js";
  } catch {
    return false; // no permission to read the environment: no override
  }
}

/** Our own library's entry point (native/vigil_hash.c): the low-level OpenSSL calls. */
function loadNative(): Sha256Into | null {
  if (forcedJs()) return null;
  try {
    const lib = Deno.dlopen(nativeLibraryPath(), {
      vigil_sha256: { parameters: ["buffer", "i32", "buffer"], result: "void" },
    });
    const fn = lib.symbols.vigil_sha256;
    return (data, out, outOff) => {
      fn(data, data.length, outOff === 0 ? out : out.subarray(outOff, outOff + 32));
    };
  } catch {
    return null;
  }
}

function loadOpenSsl(): Sha256Into | null {
  if (forcedJs()) return null;
  for (const name of LIBS) {
    try {
      const lib = Deno.dlopen(name, {
        SHA256: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
      });
      const fn = lib.symbols.SHA256;
      return (data, out, outOff) => {
        fn(data, BigInt(data.length), outOff === 0 ? out : out.subarray(outOff, outOff + 32));
      };
    } catch {
      // No permission to load native code, or no such library: fall through to the next.
    }
  }
  return null;
}

function selfTest(fn: Sha256Into): boolean {
  const probe = new TextEncoder().encode("vigil sha-256 self test: the quick brown fox");
  const out = new Uint8Array(32);
  fn(probe, out, 0);
  const want = createHash("sha256").update(probe).digest();
  return out.every((b, i) => b === want[i]);
}

function choose(): { into: Sha256Into; backend: Sha256Backend } {
  const native = loadNative();
  if (native && selfTest(native)) return { into: native, backend: "native" };
  const ffi = loadOpenSsl();
  if (ffi && selfTest(ffi)) return { into: ffi, backend: "openssl-ffi" };
  if (!selfTest(sha256JsInto)) throw new Error("SHA-256 self test failed for every backend");
  return { into: sha256JsInto, backend: "js" };
}

const chosen = choose();

/** Hashes `data` into `out[outOff .. outOff + 32)` with the fastest backend available. */
export const sha256Into: Sha256Into = chosen.into;

/** The backend `sha256Into` uses. */
export const sha256Backend: Sha256Backend = chosen.backend;

/** SHA-256 of `data` as a new array. */
export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  sha256Into(data, out, 0);
  return out;
}
