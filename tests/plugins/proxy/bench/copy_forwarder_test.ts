/**
 * The proxy bench's ceilings on a real PostgreSQL and psql: the copy forwarder passes a session
 * through unchanged, and with a sync directory it writes a record of each chunk from the server
 * over its session's file of zeros before passing it on; stopped, its process is gone.
 */

import { startCopyForwarder } from "../../../../plugins/proxy/bench/copy_forwarder.ts";
import { startPostgres } from "../../../support/postgres.ts";
import { assert, assertEquals } from "../../../support/assert.ts";

const PSQL = "/usr/lib/postgresql/15/bin/psql";

async function psql(port: number, user: string, sql: string): Promise<string> {
  const out = await new Deno.Command(PSQL, {
    args: ["-X", "-q", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-c", sql],
    env: { PGDATABASE: "postgres", PGCONNECT_TIMEOUT: "10" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert(out.success, `psql failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout).trim();
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("the copy forwarders pass sessions through, one syncing a record a chunk", async () => {
  await using pg = await startPostgres({ pgauditLog: "none" });
  const dir = await Deno.makeTempDir({ prefix: "vigil-test-copy-" });
  try {
    let pids: number[];
    {
      await using copy = await startCopyForwarder({ upstreamPort: pg.port });
      await using synced = await startCopyForwarder({ upstreamPort: pg.port, syncDir: dir });
      pids = [copy.pid, synced.pid];
      const sql = "SELECT string_agg(g::text, ',') FROM generate_series(1, 5000) g";
      const direct = await psql(pg.port, pg.superuser, sql);
      assertEquals(await psql(copy.port, pg.superuser, sql), direct);
      assertEquals(await psql(synced.port, pg.superuser, sql), direct);
      const files = await Array.fromAsync(Deno.readDir(dir));
      assertEquals(files.map((f) => f.name), ["session-1"]);
      const bytes = await Deno.readFile(`${dir}/session-1`);
      assertEquals(bytes.length, 1024 * 1024, "a file of zeros written over in turn");
      // Records of 512 bytes, each opening with the length of the chunk it stands for: the
      // server's answers to the startup and to the query came in at least two chunks.
      const view = new DataView(bytes.buffer);
      const lengths = [];
      for (let at = 0; at + 512 <= bytes.length && view.getUint32(at) !== 0; at += 512) {
        lengths.push(view.getUint32(at));
      }
      assert(lengths.length >= 2, `records: ${lengths.join(", ")}`);
      assert(lengths.reduce((a, b) => a + b, 0) > direct.length, `records: ${lengths.join(", ")}`);
    }
    for (const pid of pids) assert(!alive(pid), `copy forwarder ${pid} still running`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
