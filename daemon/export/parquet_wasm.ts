/**
 * Loads parquet-wasm once per process. The ESM build is used with its `.wasm` read from disk and
 * handed to `init()` as bytes, because its default (a `fetch` relative to the module) needs
 * network permission and does not survive `deno bundle`: the bytes come from the npm package
 * when the import map resolves it, else from `parquet_wasm_bg.wasm` beside the main module
 * (where a bundled `vigil` ships it). The compiled module is kept so that a Worker can be handed
 * it (`parquetWasmModule()`, `parquetWasmFrom()`) rather than look for the file and compile it
 * again: a Worker has no main module to look beside.
 */

import init, * as parquet from "parquet-wasm/esm";
import type { RecordBatch as WasmRecordBatch } from "parquet-wasm/esm";

/** The parquet-wasm module, ready to use. */
export type ParquetWasm = typeof parquet;

const WASM_SPECIFIER = "parquet-wasm/esm/parquet_wasm_bg.wasm";
const WASM_FILE = "parquet_wasm_bg.wasm";

let ready: Promise<WebAssembly.Module> | undefined;

/** The initialised parquet-wasm module; the first call compiles the Wasm (~40 ms here). */
export async function parquetWasm(): Promise<ParquetWasm> {
  await parquetWasmModule();
  return parquet;
}

/** The compiled Wasm that `parquetWasm()` runs, to hand to a Worker. */
export function parquetWasmModule(): Promise<WebAssembly.Module> {
  ready ??= load().catch((e) => {
    ready = undefined; // a later call may succeed once the file is there
    throw e;
  });
  return ready;
}

/** In a Worker: parquet-wasm initialised from the module its host compiled. */
export async function parquetWasmFrom(module: WebAssembly.Module): Promise<ParquetWasm> {
  ready ??= init({ module_or_path: module }).then(() => module);
  await ready;
  return parquet;
}

async function load(): Promise<WebAssembly.Module> {
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
    const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    await init({ module_or_path: module });
    return module;
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

/** The one record batch of an Arrow IPC stream, read into Wasm memory (a copy). */
export function wasmRecordBatch(pq: ParquetWasm, ipc: Uint8Array): WasmRecordBatch {
  const table = pq.Table.fromIPCStream(ipc);
  try {
    const batch = table.recordBatch(0);
    if (!batch) throw new Error("Cannot convert events to Parquet: Arrow table has no batch");
    return batch;
  } finally {
    table.free();
  }
}
