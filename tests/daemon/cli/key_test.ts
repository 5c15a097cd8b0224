import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../support/assert.ts";
import { eventLines, runVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("vigil key rotate hands over to a new key that vigil verify --pubkey follows", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await runVigil(["ingest", "--data", data, "--source", "app"], { stdin: eventLines(10) });
    const orig = (await runVigil(["pubkey", "--data", data])).stdout;
    await Deno.writeTextFile(`${dir}/orig.pub`, orig);
    const r = await runVigil([
      "key",
      "rotate",
      "--data",
      data,
      "--by",
      "ada",
      "--reason",
      "yearly",
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(
      r.stdout,
      /^rotated key [0-9a-f]{16} → [0-9a-f]{16} at seq 10 \(checkpoint of 11 events/,
    );
    await runVigil(["ingest", "--data", data, "--source", "app"], { stdin: eventLines(5, 10) });
    const v = await runVigil(["verify", "--data", data, "--pubkey", `${dir}/orig.pub`]);
    assertEquals(v.code, 0, v.stdout + v.stderr);
    assertMatch(
      v.stdout,
      /^OK: 16 events .*signed by keys [0-9a-f]{16} → [0-9a-f]{16} \(rotation at seq 10\)/,
    );
    const q = await runVigil(["query", "--data", data, "--command", "KEY_ROTATE"]);
    const ev = JSON.parse(q.stdout.trim());
    assertEquals([ev.kind, ev.source, ev.app_user, ev.context.reason], [
      "system",
      "vigil",
      "ada",
      "yearly",
    ]);
    const l = await runVigil(["key", "list", "--data", data]);
    assertEquals(l.code, 0, l.stderr);
    const lines = l.stdout.trim().split("\n");
    assertEquals(lines.length, 2);
    assertMatch(lines[0]!, /\tretired\tfirst key\t/);
    assertMatch(lines[1]!, /\tcurrent\trotation at seq 10 /);
    assertEquals((await runVigil(["key", "spin", "--data", data])).code, 2);
  });
});

Deno.test("a lost signing key stops writers with the file named until vigil key rotate --recover", async () => {
  await withTempDir(async (dir) => {
    await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: eventLines(5) });
    await Deno.remove(`${dir}/keys/signing.key`);
    const refused = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(1, 5),
    });
    assertEquals(refused.code, 3);
    assertStringIncludes(refused.stderr, `${dir}/keys/signing.key is missing`);
    assertStringIncludes(refused.stderr, "vigil key rotate --recover");
    const rec = await runVigil(["key", "rotate", "--recover", "--data", dir, "--reason", "disk"]);
    assertEquals(rec.code, 0, rec.stderr);
    assertMatch(rec.stdout, /^declared key [0-9a-f]{16} lost; new key [0-9a-f]{16} at seq 5/);
    const v = await runVigil(["verify", "--data", dir]);
    assertEquals(v.code, 0, v.stdout);
    assertMatch(v.stdout, /^WARNING: key [0-9a-f]{16} was declared lost at seq 5/);
    const again = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(1, 5),
    });
    assertEquals(again.code, 0, again.stderr);
  });
});

Deno.test("vigil key rotate is refused while another process writes the data dir", async () => {
  await withTempDir(async (dir) => {
    const store = await Store.open(dir, { checkpointIntervalMs: 0 });
    try {
      const r = await runVigil(["key", "rotate", "--data", dir]);
      assertEquals(r.code, 3);
      assertMatch(r.stderr, /in use by another writer.*Administration/);
    } finally {
      await store.close();
    }
    assert((await runVigil(["key", "rotate", "--data", dir])).code === 0);
  });
});

Deno.test("vigil export and verify-bundle --pubkey follow a key rotation offline", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await runVigil(["ingest", "--data", data, "--source", "app"], { stdin: eventLines(10) });
    await Deno.writeTextFile(
      `${dir}/orig.pub`,
      (await runVigil(["pubkey", "--data", data])).stdout,
    );
    assertEquals((await runVigil(["key", "rotate", "--data", data])).code, 0);
    await runVigil(["ingest", "--data", data, "--source", "app"], { stdin: eventLines(5, 10) });
    const e = await runVigil(["export", "--data", data, "--out", `${dir}/bundle`]);
    assertEquals(e.code, 0, e.stderr);
    await Deno.remove(data, { recursive: true });
    const v = await runVigil(["verify-bundle", `${dir}/bundle`, "--pubkey", `${dir}/orig.pub`]);
    assertEquals(v.code, 0, v.stdout + v.stderr);
    assertMatch(
      v.stdout,
      /followed from the trusted key [0-9a-f]{16} through the manifest's key handovers/,
    );
  });
});
