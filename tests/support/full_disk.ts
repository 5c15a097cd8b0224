/**
 * A real small file system for disk-full tests: a tmpfs of the size asked for, mounted on a
 * temp dir for the time of a test (mounting needs root, which CI has: such tests are ignored
 * otherwise), and a filler file that leaves only so much of it free.
 */

async function run(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Whether this process may mount a tmpfs. */
export const CAN_MOUNT = Deno.uid() === 0;

/** Runs `fn` with a tmpfs of `size` (as `mount -o size=` takes it) mounted on a temp dir. */
export async function withTmpfs<T>(size: string, fn: (mnt: string) => Promise<T>): Promise<T> {
  const mnt = await Deno.makeTempDir({ prefix: "vigil-full-" });
  await run("mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt);
  try {
    return await fn(mnt);
  } finally {
    await run("umount", mnt);
    await Deno.remove(mnt, { recursive: true });
  }
}

/** Fills the file system of `mnt` with `<mnt>/filler` until `leave` bytes are free. */
export async function fillUpTo(mnt: string, leave: number): Promise<void> {
  const out = await new Deno.Command("df", { args: ["-B1", "--output=avail", mnt] }).output();
  const free = Number(new TextDecoder().decode(out.stdout).trim().split("\n")[1]);
  await Deno.writeFile(`${mnt}/filler`, new Uint8Array(Math.max(0, free - leave)));
}
