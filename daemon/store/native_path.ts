/** Where the store's native hashing library (native/vigil_hash.c) is loaded from. */

/** VIGIL_NATIVE_LIB if set, else .tools/native/ of this checkout (scripts/setup.sh builds it). */
export function nativeLibraryPath(): string {
  try {
    const env = Deno.env.get("VIGIL_NATIVE_LIB");
    if (env) return env;
  } catch {
    // no permission to read the environment
  }
  return new URL("../../.tools/native/libvigil_hash.so", import.meta.url).pathname;
}
