/**
 * Loads parquet-wasm once per process. The ESM build is used with its `.wasm` read from disk and
 * handed to `init()` as bytes, because its default (a `fetch` relative to the module) needs
 * network permission and does not survive `deno bundle`: the bytes come from the npm package
 * when the import map resolves it, else from `parquet_wasm_bg.wasm` beside the main module
 * (where a bundled `vigil` ships it).
 */

import init, * as parquet from "parquet-wasm/esm";

/** The parquet-wasm module, ready to use. */
export type ParquetWasm = typeof parquet;

const WASM_SPECIFIER = "parquet-wasm/esm/parquet_wasm_bg.wasm";
const WASM_FILE = "parquet_wasm_bg.wasm";

let ready: Promise<ParquetWasm> | undefined;

/** The initialised parquet-wasm module; the first call compiles the Wasm (~40 ms here). */
export function parquetWasm(): Promise<ParquetWasm> {
  ready ??= load().catch((e) => {
    ready = undefined; // a later call may succeed once the file is there
    throw e;
  });
  return ready;
}

async function load(): Promise<ParquetWasm> {
  const tried: string[] = [];
  for (const url of candidates()) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(url);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      tried.push(url.pathname);
      continue;
    }
    await init({ module_or_path: bytes as Uint8Array<ArrayBuffer> });
    return parquet;
  }
  throw new Deno.errors.NotFound(
    `Cannot load parquet-wasm: no ${WASM_FILE} at ${tried.join(" or ")}`,
  );
}

function candidates(): URL[] {
  const out: URL[] = [];
  try {
    const resolved = new URL(import.meta.resolve(WASM_SPECIFIER));
    if (resolved.protocol === "file:") out.push(resolved);
  } catch {
    // No import map (a bundled build): fall back to the file shipped beside the entry point.
  }
  out.push(new URL(`./${WASM_FILE}`, Deno.mainModule));
  return out;
}
