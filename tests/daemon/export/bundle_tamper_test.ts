/**
 * Tamper tests of bundles: each change is made as an attacker would, without the appliance's
 * key (and, where noted, as an insider with it), and verification must name the place.
 */

import { createHash } from "node:crypto";
import type { AuditEvent } from "../../../daemon/event/model.ts";
import { writeBundle } from "../../../daemon/export/bundle.ts";
import { type BundleReport, verifyBundle } from "../../../daemon/export/bundle_verify.ts";
import {
  type BundleFile,
  encodeManifest,
  type Manifest,
  parseManifest,
  signManifest,
} from "../../../daemon/export/manifest.ts";
import {
  readParquetEvents,
  readParquetFooter,
  writeEventsParquet,
} from "../../../daemon/export/parquet.ts";
import { decodeParquetMeta } from "../../../daemon/export/parquet_meta.ts";
import { keyIdOf, loadOrCreateKey, publicKeyPem } from "../../../daemon/store/keys.ts";
import { storePaths } from "../../../daemon/store/store_open.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";
import { CHECKPOINTS_AT, makeStore } from "./_bundle_store.ts";

interface Bundle {
  data: string;
  out: string;
  manifest: Manifest;
  /** The first file with at least three rows. */
  file: BundleFile;
}

/** Runs `fn` on a fresh bundle of the standard store (made once per test, in a temp dir). */
async function withBundle(fn: (b: Bundle) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    await makeStore(`${dir}/data`);
    await writeBundle(`${dir}/data`, `${dir}/out`);
    const manifest = parseManifest(await Deno.readFile(`${dir}/out/manifest.json`));
    const file = manifest.files.find((f) => f.rows >= 3)!;
    assert((await verifyBundle(`${dir}/out`)).ok, "the untouched bundle verifies");
    await fn({ data: `${dir}/data`, out: `${dir}/out`, manifest, file });
  });
}

/** Rewrites a Parquet file of the bundle with `edit` applied to its rows, same metadata. */
async function rewriteRows(
  b: Bundle,
  path: string,
  edit: (rows: AuditEvent[]) => AuditEvent[],
): Promise<void> {
  const bytes = await Deno.readFile(`${b.out}/${path}`);
  const meta = decodeParquetMeta((await readParquetFooter(bytes)).keyValue)!;
  const rows = edit(await readParquetEvents(bytes));
  const fixed = { ...meta, rows: rows.length, firstSeq: rows[0]!.seq, lastSeq: rows.at(-1)!.seq };
  await Deno.writeFile(`${b.out}/${path}`, await writeEventsParquet(rows, fixed));
}

/** Re-signs the manifest with fresh hashes and row counts, by `key` (else the store's own). */
async function resign(
  b: Bundle,
  key?: { privateKey: CryptoKey; publicRaw: Uint8Array; writePem: boolean },
): Promise<void> {
  const m: Manifest = structuredClone(b.manifest);
  for (const f of m.files) {
    const bytes = await Deno.readFile(`${b.out}/${f.path}`);
    f.sha256 = createHash("sha256").update(bytes).digest("hex");
    f.bytes = bytes.length;
    f.rows = (await readParquetFooter(bytes)).rows;
  }
  const signer = key ?? await loadOrCreateKey(storePaths(b.data).keys);
  if (key?.writePem) {
    m.key_id = keyIdOf(key.publicRaw);
    await Deno.writeTextFile(`${b.out}/public_key.pem`, publicKeyPem(key.publicRaw));
  }
  const bytes = encodeManifest(m);
  await Deno.writeFile(`${b.out}/manifest.json`, bytes);
  await Deno.writeFile(`${b.out}/manifest.sig`, await signManifest(bytes, signer.privateKey));
}

async function attackerKey(writePem: boolean) {
  const pair = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicRaw, writePem };
}

function alterStatement(rows: AuditEvent[]): AuditEvent[] {
  rows[2] = { ...rows[2]!, statement: "SELECT 'nothing to see here'" };
  return rows;
}

function first(r: BundleReport): string {
  assert(!r.ok, "the bundle must fail verification");
  return r.problems[0]!;
}

Deno.test("verifyBundle() names a removed file, and the seq it held", async () => {
  await withBundle(async (b) => {
    await Deno.remove(`${b.out}/${b.file.path}`);
    const r = await verifyBundle(b.out);
    assertEquals(first(r), `${b.file.path} is missing`);
    assertStringIncludes(r.problems.join("\n"), `seq ${b.file.first_seq} is in no file`);
  });
});

Deno.test("verifyBundle() names an added file", async () => {
  await withBundle(async (b) => {
    const dir = b.file.path.replace(/\/[^/]+$/, "");
    const extra = `${dir}/000000000500-000000000501.parquet`;
    await Deno.copyFile(`${b.out}/${b.file.path}`, `${b.out}/${extra}`);
    assertEquals(first(await verifyBundle(b.out)), `${extra} is not in the manifest`);
  });
});

Deno.test("verifyBundle() names the file of an altered row by its SHA-256", async () => {
  await withBundle(async (b) => {
    await rewriteRows(b, b.file.path, alterStatement);
    const r = await verifyBundle(b.out);
    assertMatch(
      first(r),
      new RegExp(`^${b.file.path}: SHA-256 [0-9a-f]{64} is not the manifest's`),
    );
    assertStringIncludes(r.problems.join("\n"), "do not reproduce the Merkle root");
  });
});

Deno.test("verifyBundle() refuses a manifest re-signed without the appliance's key", async () => {
  await withBundle(async (b) => {
    await rewriteRows(b, b.file.path, alterStatement);
    await resign(b, await attackerKey(false));
    assertMatch(first(await verifyBundle(b.out)), /^manifest\.sig is not a valid signature/);
  });
});

Deno.test("verifyBundle() refuses a bundle re-keyed by an attacker; --pubkey names the key", async () => {
  await withBundle(async (b) => {
    const original = (await loadOrCreateKey(storePaths(b.data).keys)).publicRaw;
    await rewriteRows(b, b.file.path, alterStatement);
    const attacker = await attackerKey(true);
    await resign(b, attacker);
    // The manifest verifies with the bundled key, but the checkpoints were signed by the other.
    assertMatch(first(await verifyBundle(b.out)), /checkpoint \(size 120\) has no valid signature/);
    assertEquals(
      first(await verifyBundle(b.out, { publicKey: original })),
      `public_key.pem holds key ${keyIdOf(attacker.publicRaw)}, not the trusted key ` +
        keyIdOf(original),
    );
  });
});

Deno.test("verifyBundle() names reordered rows by file, row and seq", async () => {
  await withBundle(async (b) => {
    let seqs: number[] = [];
    await rewriteRows(b, b.file.path, (rows) => {
      seqs = rows.map((r) => r.seq);
      return [rows[0]!, rows[2]!, rows[1]!, ...rows.slice(3)];
    });
    const r = await verifyBundle(b.out);
    assertMatch(first(r), /SHA-256 .* is not the manifest's/);
    assertEquals(
      r.problems[1],
      `${b.file.path} row 2 (seq ${seqs[1]}): comes after seq ${
        seqs[2]
      }; rows are out of seq order`,
    );
  });
});

Deno.test("verifyBundle() refuses an edited manifest, and a missing one", async () => {
  await withBundle(async (b) => {
    const text = await Deno.readTextFile(`${b.out}/manifest.json`);
    assertStringIncludes(text, '"events": 120');
    await Deno.writeTextFile(
      `${b.out}/manifest.json`,
      text.replace('"events": 120', '"events": 99'),
    );
    assertMatch(first(await verifyBundle(b.out)), /^manifest\.sig is not a valid signature/);
    await Deno.remove(`${b.out}/manifest.json`);
    assertEquals(first(await verifyBundle(b.out)), "manifest.json is missing");
  });
});

Deno.test("verifyBundle() catches rows changed by an insider who re-signs with the real key", async () => {
  await withBundle(async (b) => {
    // An altered row leaves valid hashes and a valid signature: the signed checkpoints catch it,
    // narrowed to the seqs between the two checkpoints around it.
    await rewriteRows(b, b.file.path, alterStatement);
    await resign(b);
    const rows = await readParquetEvents(await Deno.readFile(`${b.out}/${b.file.path}`));
    const seq = rows[2]!.seq;
    const hi = [...CHECKPOINTS_AT, 120].find((s) => s > seq)!;
    const lo = [0, ...CHECKPOINTS_AT].findLast((s) => s <= seq)!;
    assertEquals(
      first(await verifyBundle(b.out)).replace(/ signed \S+;/, " signed T;"),
      `seqs ${lo} to ${hi - 1}: the rows do not reproduce the Merkle root of the checkpoint ` +
        `of size ${hi} signed T; a row differs from the log`,
    );
  });
});

Deno.test("verifyBundle() names a removed row and an added one, even when re-signed", async () => {
  await withBundle(async (b) => {
    let removed = -1;
    await rewriteRows(b, b.file.path, (rows) => {
      removed = rows[1]!.seq;
      return rows.filter((_, i) => i !== 1);
    });
    await resign(b);
    assertEquals(
      first(await verifyBundle(b.out)),
      `seq ${removed} is in no file; a row or file was removed`,
    );
  });
  await withBundle(async (b) => {
    const other = b.manifest.files.find((f) => f.source === b.file.source && f !== b.file)!;
    const guest = (await readParquetEvents(await Deno.readFile(`${b.out}/${other.path}`)))[0]!;
    let row = -1;
    await rewriteRows(b, b.file.path, (rows) => {
      const all = [...rows, guest].sort((x, y) => x.seq - y.seq);
      row = all.indexOf(guest);
      return all;
    });
    await resign(b);
    const problems = (await verifyBundle(b.out)).problems.join("\n");
    assertStringIncludes(problems, `${b.file.path} row ${row} (seq ${guest.seq}):`);
  });
});
