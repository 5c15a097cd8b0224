/**
 * The S3 sink and the exporter against a real Ceph RADOS Gateway on loopback (started once for
 * this file, removed at its end even on failure): single and multipart uploads checked by ETag,
 * a multipart upload resumed from the parts the server holds, `vigil export-run` SIGKILLed in
 * the middle of a multipart upload and run again — no gap, no second upload, checked by listing,
 * by the journal and by DuckDB against the store — Object Lock refusing deletion, wrong
 * credentials failing with the endpoint, bucket, key and S3 error code, and retries on network
 * errors but not on 403.
 */

import { readJournal } from "../../../daemon/export/journal.ts";
import { S3Client, S3Error } from "../../../daemon/export/s3_client.ts";
import { createUpload, listUploads, uploadPart } from "../../../daemon/export/s3_multipart.ts";
import { hashFile } from "../../../daemon/export/run_target.ts";
import type { UploadedPart } from "../../../daemon/export/sink.ts";
import { S3Sink } from "../../../daemon/export/sink_s3.ts";
import { Store } from "../../../daemon/store/store.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../support/assert.ts";
import { CEPH_MISSING, cephInstalled, type CephRgw, startCephRgw } from "../../support/ceph.ts";
import { runVigil, spawnVigil } from "../../support/cli.ts";
import { withTempDir } from "../../support/store.ts";
import { assertArchiveHolds, assertRunVerifies } from "./_archive.ts";
import { storedEvents } from "./_bundle_store.ts";

const MIB = 1024 * 1024;

if (!cephInstalled()) console.error(`s3_test: skipped: ${CEPH_MISSING}`);

/** A file of random bytes. */
async function randomFile(path: string, bytes: number): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(MIB);
  for (let left = bytes; left > 0; left -= MIB) {
    for (let i = 0; i < chunk.length; i += 65536) {
      crypto.getRandomValues(chunk.subarray(i, i + 65536));
    }
    await f.write(chunk.subarray(0, Math.min(MIB, left)));
  }
}

function sinkOn(
  rgw: CephRgw,
  bucket: string,
  opts: { partMiB?: number; thresholdMiB?: number } = {},
) {
  const s3 = new S3Client({ ...rgw.s3, bucket });
  return new S3Sink("test", s3, {
    prefix: "p/",
    partBytes: (opts.partMiB ?? 5) * MIB,
    multipartThreshold: (opts.thresholdMiB ?? 5) * MIB,
  });
}

/** A store whose events make one Parquet file of tens of MiB (random text does not compress). */
async function bigStore(data: string): Promise<void> {
  const store = await Store.open(data, { checkpointIntervalMs: 0, hashWorker: false });
  const ts = Date.UTC(2026, 2, 1) * 1000;
  const raw = new Uint8Array(6 * 1024);
  for (let i = 0; i < 6000; i += 100) {
    const events = [];
    for (let j = i; j < i + 100; j++) {
      crypto.getRandomValues(raw);
      events.push({
        ts: ts + j,
        source: "bulk",
        kind: "object" as const,
        role: "alice",
        statement: btoa(String.fromCharCode(...raw)),
      });
    }
    await store.append({ source: "bulk", events });
  }
  await store.close();
}

async function writeConfig(
  dir: string,
  rgw: CephRgw,
  t: { name: string; bucket: string; secret?: string; lock?: boolean },
) {
  await Deno.writeTextFile(`${dir}/${t.name}.access`, rgw.s3.accessKeyId + "\n");
  await Deno.writeTextFile(`${dir}/${t.name}.secret`, (t.secret ?? rgw.s3.secretAccessKey) + "\n");
  const file = `${dir}/${t.name}.toml`;
  await Deno.writeTextFile(
    file,
    `[[exports]]\nname = "${t.name}"\ntype = "s3"\nendpoint = "${rgw.endpoint}"\n` +
      `bucket = "${t.bucket}"\nprefix = "site1/audit"\n` +
      `access_key_file = "${dir}/${t.name}.access"\nsecret_key_file = "${dir}/${t.name}.secret"\n` +
      `part_size_mib = 5\nmultipart_threshold_mib = 5\n` +
      (t.lock ? `object_lock = true\nretain_days = 1\n` : ""),
  );
  return file;
}

/** Downloads every object under `prefix` into `dir`, keys as paths (prefix removed). */
async function download(s3: S3Client, prefix: string, dir: string): Promise<void> {
  for (const o of await s3.list(prefix)) {
    const res = await s3.send({ method: "GET", key: o.key });
    const path = `${dir}/${o.key.slice(prefix.length)}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, new Uint8Array(await res.arrayBuffer()));
  }
}

Deno.test({
  name: "S3 export against a real Ceph RGW",
  ignore: !cephInstalled(),
  async fn(t) {
    await using rgw = await startCephRgw();
    console.log(`Ceph RGW started in ${Math.round(rgw.startMs)} ms`);
    await new S3Client({ ...rgw.s3, bucket: "plain" }).createBucket();
    await new S3Client({ ...rgw.s3, bucket: "locked" }).createBucket({ objectLock: true });

    await t.step("every Ceph daemon listens on 127.0.0.1 only", async () => {
      const out = await new Deno.Command("ss", { args: ["-ltnpH"] }).output();
      const mine = new TextDecoder().decode(out.stdout).split("\n")
        .filter((l) => rgw.pids.some((pid) => l.includes(`pid=${pid},`)));
      assert(mine.length >= 3, `listeners of ${rgw.pids}: ${mine.join("\n")}`);
      for (const l of mine) assertMatch(l, /\s127\.0\.0\.1:\d+\s/);
    });

    await t.step("S3Sink puts a small file in one PUT, checked by ETag and HEAD", async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/f`;
        await randomFile(path, 100_000);
        const file = { path, ...await hashFile(path) };
        const sink = sinkOn(rgw, "plain");
        // Characters that break a signature unless keys are encoded one segment at a time.
        const key = "source=a+b %2F c/date=2026-01-01/0-1.parquet";
        const stored = await sink.put(key, file);
        assertEquals([stored.bytes, stored.etag, stored.sha256], [
          file.bytes,
          file.md5,
          file.sha256,
        ]);
        assertEquals((await sink.s3.list("p/")).map((o) => o.key), [`p/${key}`]);
        assertEquals(await sink.head("missing"), null);
      });
    });

    await t.step(
      "S3Sink uploads a large file in parts; the ETag is the multipart ETag",
      async () => {
        await withTempDir(async (dir) => {
          const path = `${dir}/big`;
          await randomFile(path, 24 * MIB);
          const file = { path, ...await hashFile(path) };
          const parts: UploadedPart[] = [];
          let t0 = performance.now();
          const stored = await sinkOn(rgw, "plain").put("big", file, {
            onPart: (_, p) => Promise.resolve(void parts.push(p)),
          });
          const multiMs = performance.now() - t0;
          assertEquals(parts.map((p) => p.part), [1, 2, 3, 4, 5]);
          assertMatch(stored.etag, /^[0-9a-f]{32}-5$/);
          t0 = performance.now();
          const single = await sinkOn(rgw, "plain", { thresholdMiB: 64 }).put("single", file);
          const singleMs = performance.now() - t0;
          assertEquals(single.etag, file.md5);
          console.log(
            `24 MiB upload: single PUT ${(24 / (singleMs / 1000)).toFixed(0)} MiB/s, ` +
              `multipart (5 MiB parts) ${(24 / (multiMs / 1000)).toFixed(0)} MiB/s (incl. HEAD)`,
          );
        });
      },
    );

    await t.step("S3Sink resumes a multipart upload from the parts the server holds", async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/big`;
        await randomFile(path, 12 * MIB);
        const file = { path, ...await hashFile(path) };
        const sink = sinkOn(rgw, "plain");
        // An upload begun before a crash whose id never reached the journal: aborted at the end.
        await createUpload(sink.s3, "p/resumed", {});
        const id = await createUpload(sink.s3, "p/resumed", { "x-amz-meta-sha256": file.sha256 });
        const first = (await Deno.readFile(path)).subarray(0, 5 * MIB);
        await uploadPart(sink.s3, "p/resumed", { uploadId: id, part: 1, body: first });
        const sent: number[] = [];
        let started = false;
        const stored = await sink.put("resumed", file, {
          resumeUploadId: id,
          onUploadStarted: () => Promise.resolve(void (started = true)),
          onPart: (_, p) => Promise.resolve(void sent.push(p.part)),
        });
        assertEquals([started, sent], [false, [2, 3]], "part 1 kept, no new upload");
        assert(await sink.matches(stored, file));
        assertEquals(await listUploads(sink.s3, "p/"), [], "no upload left open");
      });
    });

    await t.step(
      "export-run killed mid-multipart resumes without gaps or double uploads",
      async () => {
        await withTempDir(async (dir) => {
          const data = `${dir}/data`;
          await bigStore(data);
          const config = await writeConfig(dir, rgw, {
            name: "archive",
            bucket: "locked",
            lock: true,
          });
          const child = spawnVigil(["export-run", "--data", data, "--config", config]);
          await child.stdin.close();
          const out = Promise.all([
            new Response(child.stdout).text(),
            new Response(child.stderr).text(),
          ]);
          let parts = 0;
          for (let i = 0; i < 6000 && parts === 0; i++) {
            parts = (await readJournal(data)).filter((r) => r.op === "part").length;
            if (parts === 0) await new Promise((r) => setTimeout(r, 10));
          }
          child.kill("SIGKILL");
          const status = await child.status;
          const [, stderr] = await out;
          assertEquals(status.signal, "SIGKILL", `the export finished before the kill: ${stderr}`);
          let journal = await readJournal(data);
          assertEquals(journal.filter((r) => r.op === "done").length, 0);
          const s3 = new S3Client({ ...rgw.s3, bucket: "locked" });
          assertEquals((await listUploads(s3, "site1/")).length, 1, "the cut-off upload is open");

          const again = await runVigil(["export-run", "--data", data, "--config", config]);
          assertEquals(again.code, 0, again.stderr);
          assertMatch(again.stdout, /archive: exported run 000000000000-000000005999/);
          journal = await readJournal(data);
          const plan = journal.find((r) => r.op === "plan");
          assert(plan?.op === "plan");
          const uploaded = journal.flatMap((r) => r.op === "uploaded" ? [r.key] : []);
          assertEquals(uploaded.sort(), plan.files.map((f) => f.key).sort(), "each key once");
          const uploads = journal.filter((r) => r.op === "multipart");
          assertEquals(uploads.length, 1, "the multipart upload was resumed, not begun again");
          const partNumbers = journal.flatMap((r) => r.op === "part" ? [r.part] : []);
          assertEquals(new Set(partNumbers).size, partNumbers.length, "no part sent twice");
          const big = plan.files.find((f) => f.key.endsWith(".parquet"))!;
          assertEquals(Math.max(...partNumbers), Math.ceil(big.bytes / (5 * MIB)));
          const listed = await s3.list("site1/audit/");
          assertEquals(
            listed.map((o) => o.key).sort(),
            plan.files.map((f) => `site1/audit/${f.key}`).sort(),
            "the bucket holds exactly the planned objects",
          );
          assertEquals(await listUploads(s3, "site1/"), []);

          await download(s3, "site1/audit/", `${dir}/download`);
          await assertArchiveHolds(`${dir}/download`, await storedEvents(data));
          await assertRunVerifies(`${dir}/download`, plan.run, `${dir}/bundle`);

          const rerun = await runVigil(["export-run", "--data", data, "--config", config]);
          assertEquals([rerun.code, rerun.stdout.trim()], [
            0,
            "archive: up to date (holds seqs below 6000)",
          ]);
        });
      },
    );

    await t.step(
      "Object Lock: exported objects are COMPLIANCE-locked; deleting one is refused",
      async () => {
        const s3 = new S3Client({ ...rgw.s3, bucket: "locked" });
        const [obj] = (await s3.list("site1/audit/date=")).filter((o) =>
          o.key.endsWith(".parquet")
        );
        assert(obj, "an exported Parquet object");
        const head = await s3.send({ method: "HEAD", key: obj.key });
        assertEquals(head.headers.get("x-amz-object-lock-mode"), "COMPLIANCE");
        const until = Date.parse(head.headers.get("x-amz-object-lock-retain-until-date")!);
        assert(until > Date.now(), "retained into the future");
        const versionId = head.headers.get("x-amz-version-id")!;
        const err = await assertRejects(
          () => s3.send({ method: "DELETE", key: obj.key, query: { versionId } }),
          S3Error,
        );
        assertEquals([err.info.status, err.info.code], [403, "AccessDenied"]);
        assertEquals((await s3.list(obj.key)).length, 1, "still there");
      },
    );

    await t.step(
      "wrong credentials fail at once, naming endpoint, bucket, key and code",
      async () => {
        await withTempDir(async (dir) => {
          const data = `${dir}/data`;
          const store = await Store.open(data, { checkpointIntervalMs: 0, hashWorker: false });
          await store.append({
            source: "s",
            events: [{ ts: Date.UTC(2026, 0, 1) * 1000, source: "s", kind: "app" }],
          });
          await store.close();
          const config = await writeConfig(dir, rgw, {
            name: "bad",
            bucket: "plain",
            secret: "not-the-secret",
          });
          const r = await runVigil(["export-run", "--data", data, "--config", config]);
          assertEquals(r.code, 3, r.stderr);
          assertMatch(
            r.stderr,
            new RegExp(`s3://plain/site1/audit/date=2026-01-01/\\S+ at ${rgw.endpoint}`),
          );
          assertMatch(r.stderr, /403 SignatureDoesNotMatch/);
          assertEquals((await readJournal(data)).filter((x) => x.op === "uploaded"), []);

          const client = new S3Client({
            ...rgw.s3,
            accessKeyId: "NOSUCHKEY00000000000",
            bucket: "plain",
          });
          const err = await assertRejects(
            () => client.send({ method: "PUT", key: "k", body: new Uint8Array(1) }),
            S3Error,
          );
          assertEquals([err.info.code, client.retried], ["InvalidAccessKeyId", 0]);
          assertMatch(err.message, /check the access and secret key files/);
        });
      },
    );

    await t.step(
      "network errors are retried with backoff, then reported with the endpoint",
      async () => {
        const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = l.addr.port;
        l.close();
        const client = new S3Client({
          ...rgw.s3,
          endpoint: `http://127.0.0.1:${port}`,
          bucket: "plain",
          retries: 2,
          backoffMs: 5,
        });
        const err = await assertRejects(() => client.send({ method: "HEAD", key: "k" }), S3Error);
        assertEquals(client.retried, 2);
        assertMatch(
          err.message,
          new RegExp(`HEAD s3://plain/k at http://127.0.0.1:${port}: .*after 3 attempts`),
        );
      },
    );
  },
});
