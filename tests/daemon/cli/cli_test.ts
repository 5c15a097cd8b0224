import { createHash } from "node:crypto";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../support/assert.ts";
import { eventLines, runVigil } from "../../support/cli.ts";
import { patchFile, segmentPaths, withTempDir } from "../../support/store.ts";

Deno.test("vigil --version and --help succeed; an unknown command is a usage error", async () => {
  const v = await runVigil(["--version"]);
  assertEquals(v.code, 0);
  assertMatch(v.stdout, /^vigil \d+\.\d+\.\d+\n$/);
  const h = await runVigil(["--help"]);
  assertEquals(h.code, 0);
  for (const cmd of ["ingest", "verify", "query", "prove", "reindex"]) {
    assertStringIncludes(h.stdout, `vigil ${cmd}`);
  }
  const u = await runVigil(["frobnicate"]);
  assertEquals(u.code, 2);
  assertMatch(u.stderr, /unknown command "frobnicate"/);
});

Deno.test("vigil ingest stores good lines, names each bad line and exits 1", async () => {
  await withTempDir(async (dir) => {
    const input = eventLines(3) + "{not json\n" + eventLines(1, 3) +
      '{"kind":"session","bogus":1}\n' + '{"kind":"app","ts":"yesterday"}\n' + eventLines(1, 4);
    const r = await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: input });
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, /line 4: /);
    assertMatch(r.stderr, /line 6: .*"bogus"/);
    assertMatch(r.stderr, /line 7: .*"ts"/);
    assertStringIncludes(r.stdout, "stored 5 events (seq 0..4); 3 bad lines");
    const q = await runVigil(["query", "--data", dir]);
    assertEquals(q.stdout.trim().split("\n").length, 5);
    const ok = await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(2, 10),
    });
    assertEquals(ok.code, 0, ok.stderr);
    assertStringIncludes(ok.stdout, "stored 2 events (seq 5..6)");
  });
});

Deno.test("vigil verify exits 0 when intact, 1 naming the place when tampered, 2 on usage", async () => {
  await withTempDir(async (dir) => {
    await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: eventLines(50) });
    const good = await runVigil(["verify", "--data", dir]);
    assertEquals(good.code, 0, good.stdout + good.stderr);
    assertMatch(good.stdout, /^OK: 50 events in 1 segments; .*latest covers 50 events/);
    const json = JSON.parse((await runVigil(["verify", "--data", dir, "--json"])).stdout);
    assertEquals([json.ok, json.events, json.checkpoints], [true, 50, 1]);

    assertEquals((await runVigil(["verify"])).code, 2);
    assertEquals((await runVigil(["verify", "--data", dir, "--bogus"])).code, 2);
    assertEquals((await runVigil(["verify", "--data", `${dir}/nope`])).code, 2);

    const [seg] = await segmentPaths(dir);
    const bytes = await Deno.readFile(seg!);
    const at = new TextDecoder().decode(bytes).indexOf("id = 17");
    await patchFile(seg!, at + 5, new TextEncoder().encode("9"));
    const bad = await runVigil(["verify", "--data", dir]);
    assertEquals(bad.code, 1);
    assertMatch(bad.stdout, /^TAMPERED: seg-0+\.vseg offset \d+ seq 17: CRC-32C mismatch/);
  });
});

Deno.test("vigil query filters, orders, limits and escapes control characters", async () => {
  await withTempDir(async (dir) => {
    const evil = JSON.stringify({
      kind: "session",
      role: "mallory",
      statement: "SELECT 1; -- \u001b[2J\u001b]0;pwned\u0007 \u202eevil",
      ts: "2026-02-01T00:00:00Z",
    });
    await runVigil(["ingest", "--data", dir, "--source", "app"], {
      stdin: eventLines(30) + evil + "\n",
    });
    const lines = async (args: string[]): Promise<Record<string, unknown>[]> => {
      const r = await runVigil(["query", "--data", dir, ...args]);
      assertEquals(r.code, 0, r.stderr);
      return r.stdout.trim() ? r.stdout.trim().split("\n").map((l) => JSON.parse(l)) : [];
    };
    assertEquals((await lines(["--role", "bob"])).map((e) => e.seq), [
      1,
      4,
      7,
      10,
      13,
      16,
      19,
      22,
      25,
      28,
    ]);
    assertEquals((await lines(["--role", "bob", "--command", "select"])).length, 5);
    assertEquals(
      (await lines(["--object", "public.t2", "--limit", "3", "--order", "desc"])).map((e) => e.seq),
      [26, 22, 18],
    );
    assertEquals(
      (await lines(["--from", "2026-01-01T00:00:10Z", "--to", "2026-01-01T00:00:12Z"])).map((e) =>
        e.seq
      ),
      [10, 11],
    );
    assertEquals((await lines(["--text", "ID = 17"])).map((e) => e.seq), [17]);
    assertEquals((await lines(["--kind", "session", "--role", "mallory"])).length, 1);
    const t = await runVigil(["query", "--data", dir, "--role", "mallory", "--format", "table"]);
    assert(
      !t.stdout.includes("\u001b") && !t.stdout.includes("\u202e"),
      "no raw control characters",
    );
    assertStringIncludes(t.stdout, "\\u001b[2J");
    assertEquals((await runVigil(["query", "--data", dir, "--kind", "nope"])).code, 2);
    assertEquals((await runVigil(["query", "--data", dir, "--from", "last week"])).code, 2);
  });
});

Deno.test("vigil query reads past a missing index; vigil reindex rebuilds it", async () => {
  await withTempDir(async (dir) => {
    await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: eventLines(20) });
    for (const f of ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]) {
      await Deno.remove(`${dir}/${f}`).catch(() => {});
    }
    const q = await runVigil(["query", "--data", dir, "--role", "carol"]);
    assertEquals(q.stdout.trim().split("\n").length, 6);
    assertMatch(q.stderr, /no search index/);
    const r = await runVigil(["reindex", "--data", dir]);
    assertEquals([r.code, r.stdout.trim()], [0, "reindexed 20 events"]);
    const again = await runVigil(["query", "--data", dir, "--role", "carol"]);
    assertEquals([again.stdout.trim().split("\n").length, again.stderr], [6, ""]);
  });
});

/** RFC 9162 §2.1.3.2, written out again here so the CLI's proof is checked independently. */
function verifyInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  path: Buffer[],
  root: string,
): boolean {
  const h = (...parts: Buffer[]): Buffer =>
    createHash("sha256").update(Buffer.concat(parts)).digest();
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = h(Buffer.from([1]), p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = h(Buffer.from([1]), r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.toString("hex") === root;
}

Deno.test("vigil prove prints an inclusion proof that verifies independently, signed root included", async () => {
  await withTempDir(async (dir) => {
    await runVigil(["ingest", "--data", dir, "--source", "app"], { stdin: eventLines(37) });
    const pem = (await runVigil(["pubkey", "--data", dir])).stdout;
    const spki = Uint8Array.from(
      atob(pem.replace(/-----[A-Z ]+-----|\s/g, "")),
      (c) => c.charCodeAt(0),
    );
    const key = await crypto.subtle.importKey("spki", spki, "Ed25519", false, ["verify"]);
    for (const seq of [0, 13, 36]) {
      const r = await runVigil(["prove", "--data", dir, "--seq", String(seq), "--from-size", "5"]);
      assertEquals(r.code, 0, r.stderr);
      const p = JSON.parse(r.stdout);
      const leafData = Buffer.concat([Buffer.from([0]), Buffer.from(JSON.stringify(p.event))]);
      const leaf = createHash("sha256").update(leafData).digest();
      assertEquals(leaf.toString("hex"), p.leaf_hash);
      assert(
        verifyInclusion(
          leaf,
          seq,
          p.tree_size,
          p.inclusion_proof.map((x: string) => Buffer.from(x, "hex")),
          p.root,
        ),
      );
      const c = p.checkpoint;
      const msg =
        `vigil-checkpoint v1\nkey ${c.key_id}\nsize ${c.size}\nroot ${c.root}\nchain ${c.chain}\nts ${c.ts}\n`;
      const sig = Uint8Array.from(atob(c.sig), (ch) => ch.charCodeAt(0));
      assert(await crypto.subtle.verify("Ed25519", key, sig, new TextEncoder().encode(msg)));
      assertEquals(p.consistency.from_size, 5);
    }
    const beyond = await runVigil(["prove", "--data", dir, "--seq", "37"]);
    assertEquals(beyond.code, 2);
    assertMatch(beyond.stderr, /not covered by the latest signed checkpoint/);
  });
});
