/**
 * The ustar writer against the system `tar`: what it lists, what it extracts byte for byte,
 * long paths through the prefix field, and the clean-up hook on end and on cancel.
 */

import { tarHeader, tarStream } from "../../../daemon/export/tar.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";

async function tar(args: string[]): Promise<string> {
  const out = await new Deno.Command("tar", { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) throw new Error(`tar ${args.join(" ")} failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vigil-tar-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A tree with an empty file, sizes around the block size, a big file and a long path. */
async function makeTree(root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const long = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(90)}.parquet`;
  const sizes: [string, number][] = [
    ["empty.txt", 0],
    ["one.bin", 1],
    ["block.bin", 512],
    ["block_plus.bin", 513],
    ["parquet/source=billing/day=2025-12-31/part.parquet", 200_000],
    [long, 1234],
  ];
  for (const [path, size] of sizes) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + path.length) & 0xff;
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeFile(`${root}/${path}`, bytes);
    files.set(path, bytes);
  }
  return files;
}

async function writeTar(src: string, file: string): Promise<void> {
  // pipeTo closes the file when the stream ends.
  const f = await Deno.open(file, { write: true, create: true, truncate: true });
  await tarStream(src).pipeTo(f.writable);
}

Deno.test("tarStream() writes an archive that tar lists and extracts byte for byte", async () => {
  await withTemp(async (dir) => {
    const files = await makeTree(`${dir}/src`);
    await writeTar(`${dir}/src`, `${dir}/out.tar`);
    const size = (await Deno.stat(`${dir}/out.tar`)).size;
    assertEquals(size % 512, 0, "a tar is whole blocks");

    const listed = (await tar(["-tf", `${dir}/out.tar`])).trim().split("\n");
    for (const path of files.keys()) assert(listed.includes(path), `lists ${path}`);
    assert(listed.includes("parquet/source=billing/"), "lists directories");
    const verbose = await tar(["-tvf", `${dir}/out.tar`]);
    assert(/^-rw.* 200000 .*part\.parquet$/m.test(verbose), verbose);

    await Deno.mkdir(`${dir}/x`);
    await tar(["-x", "-f", `${dir}/out.tar`, "-C", `${dir}/x`]);
    for (const [path, bytes] of files) {
      assertEquals(await Deno.readFile(`${dir}/x/${path}`), bytes, path);
    }
  });
});

Deno.test("tarHeader() refuses a name that fits neither the name nor the prefix field", () => {
  const e = { dir: false, mode: 0o644, mtimeS: 0, size: 1 };
  let err: unknown;
  try {
    tarHeader({ ...e, path: "x".repeat(101) });
  } catch (x) {
    err = x;
  }
  assert(err instanceof RangeError, "a 101-byte name without a slash is refused");
  const h = tarHeader({ ...e, path: `${"p".repeat(150)}/${"n".repeat(100)}` });
  assertEquals(new TextDecoder().decode(h.subarray(345, 495)), "p".repeat(150));
});

Deno.test("tarStream() runs onClose once at the end, on a failure, and on cancel", async () => {
  await withTemp(async (dir) => {
    await makeTree(`${dir}/src`);
    let closes = 0;
    await new Response(tarStream(`${dir}/src`, { onClose: () => void closes++ })).arrayBuffer();
    assertEquals(closes, 1);

    const cancelled = tarStream(`${dir}/src`, { onClose: () => void closes++ });
    const reader = cancelled.getReader();
    await reader.read();
    await reader.cancel();
    assertEquals(closes, 2);

    const missing = tarStream(`${dir}/nope`, { onClose: () => void closes++ });
    await assertRejects(() => new Response(missing).arrayBuffer());
    assertEquals(closes, 3);
  });
});
