/**
 * The S3-compatible sink (Ceph RADOS Gateway, MinIO, AWS S3). Small files go up in one PUT whose
 * ETag must equal the file's MD5; files above the threshold in parts of `partBytes`, each part's
 * ETag checked against its MD5 and the completed object's against the multipart ETag computed
 * locally. An upload cut off by a crash is resumed from the journal's upload id: the parts the
 * server lists with the right MD5 are kept, the rest are sent again. Every object carries its
 * SHA-256 as `x-amz-meta-sha256`, and, with Object Lock, COMPLIANCE retention until now plus
 * `retainDays`, so that not even the bucket's owner can delete or shorten it.
 */

import { createHash } from "node:crypto";
import { type S3Client, S3Error, unquote } from "./s3_client.ts";
import {
  abortUpload as abortMultipart,
  completeUpload,
  createUpload,
  listParts,
  listUploads,
  MAX_PARTS,
  MIN_PART_BYTES,
  multipartEtag,
  type ServerPart,
  uploadPart,
} from "./s3_multipart.ts";
import type { LocalFile, PutOptions, Sink, StoredObject } from "./sink.ts";

/** How the sink uploads. */
export interface S3SinkOptions {
  /** Prepended to every key; `""` or ending in `/`. */
  prefix: string;
  /** Part size of multipart uploads; at least 5 MiB. */
  partBytes: number;
  /** Files larger than this go up in parts. */
  multipartThreshold: number;
  /** COMPLIANCE retention of every object, in days from its upload. */
  retainDays?: number;
  /** The clock, for retain-until dates. */
  now?: () => number;
}

const DAY_MS = 86_400_000;

/** A sink writing to one bucket under a prefix. */
export class S3Sink implements Sink {
  readonly name: string;
  readonly location: string;
  readonly s3: S3Client;
  readonly #opts: S3SinkOptions;

  constructor(name: string, s3: S3Client, opts: S3SinkOptions) {
    if (opts.partBytes < MIN_PART_BYTES) {
      throw new RangeError(`S3 part size must be at least 5 MiB, got ${opts.partBytes} bytes`);
    }
    this.name = name;
    this.s3 = s3;
    this.#opts = opts;
    this.location = s3.where(opts.prefix);
  }

  /** The bucket key of a sink key. */
  fullKey(key: string): string {
    return this.#opts.prefix + key;
  }

  async put(key: string, file: LocalFile, opts: PutOptions = {}): Promise<StoredObject> {
    const full = this.fullKey(key);
    const headers: Record<string, string> = { "x-amz-meta-sha256": file.sha256 };
    if (this.#opts.retainDays !== undefined) {
      headers["x-amz-object-lock-mode"] = "COMPLIANCE";
      headers["x-amz-object-lock-retain-until-date"] = this.#retainUntil();
    }
    if (file.bytes <= this.#opts.multipartThreshold) {
      const body = await readSlice(file.path, 0, file.bytes);
      const res = await this.s3.send({
        method: "PUT",
        key: full,
        headers,
        body,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      await res.body?.cancel();
      const etag = unquote(res.headers.get("etag") ?? "");
      if (etag !== file.md5) throw this.#mismatch(full, etag, file.md5);
      opts.onBytes?.(file.bytes);
    } else {
      await this.#multipart(full, file, headers, opts);
    }
    const stored = await this.head(key);
    if (!stored || !(await this.matches(stored, file))) {
      throw new S3Error(
        `Cannot confirm ${this.s3.where(full)}: after the upload the server holds ` +
          (stored ? `${stored.bytes} bytes with ETag ${stored.etag}` : "nothing"),
        { target: this.name, key: full },
      );
    }
    return await this.seal(key, stored);
  }

  /**
   * Puts COMPLIANCE retention on the object's version when it has none: Ceph RGW 16 ignores the
   * Object Lock headers of CreateMultipartUpload, and an object uploaded just before a crash
   * may not have had its retention set yet. Checked with a HEAD afterwards.
   */
  async seal(key: string, stored: StoredObject): Promise<StoredObject> {
    if (this.#opts.retainDays === undefined || stored.lockedUntil !== undefined) return stored;
    const full = this.fullKey(key);
    const body = new TextEncoder().encode(
      `<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>COMPLIANCE</Mode>` +
        `<RetainUntilDate>${this.#retainUntil()}</RetainUntilDate></Retention>`,
    );
    const query: Record<string, string> = { retention: "" };
    if (stored.versionId) query.versionId = stored.versionId;
    await (await this.s3.send({ method: "PUT", key: full, query, body })).body?.cancel();
    const locked = await this.head(key);
    if (!locked?.lockedUntil) {
      throw new S3Error(`Cannot lock ${this.s3.where(full)}: it has no retention after PUT`, {
        target: this.name,
        key: full,
      });
    }
    return locked;
  }

  #retainUntil(): string {
    return new Date((this.#opts.now ?? Date.now)() + this.#opts.retainDays! * DAY_MS).toISOString();
  }

  async #multipart(
    key: string,
    file: LocalFile,
    headers: Record<string, string>,
    opts: PutOptions,
  ): Promise<void> {
    const partBytes = Math.max(this.#opts.partBytes, Math.ceil(file.bytes / MAX_PARTS));
    const count = Math.ceil(file.bytes / partBytes);
    let uploadId = opts.resumeUploadId;
    let held: ServerPart[] | null = null;
    if (uploadId) held = await listParts(this.s3, key, uploadId);
    if (!uploadId || held === null) {
      uploadId = await createUpload(this.s3, key, headers);
      held = [];
      await opts.onUploadStarted?.(uploadId);
    }
    const byNumber = new Map(held.map((p) => [p.part, p]));
    const md5s: string[] = [];
    for (let n = 1; n <= count; n++) {
      opts.signal?.throwIfAborted();
      const start = (n - 1) * partBytes;
      const body = await readSlice(file.path, start, Math.min(partBytes, file.bytes - start));
      const md5 = createHash("md5").update(body).digest("hex");
      md5s.push(md5);
      const have = byNumber.get(n);
      if (!have || have.etag !== md5 || have.bytes !== body.length) {
        const etag = await uploadPart(this.s3, key, {
          uploadId,
          part: n,
          body,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        await opts.onPart?.(uploadId, { part: n, etag, bytes: body.length });
      }
      opts.onBytes?.(body.length);
    }
    const want = multipartEtag(md5s);
    let etag: string;
    try {
      etag = await completeUpload(
        this.s3,
        key,
        uploadId,
        md5s.map((e, i) => ({ part: i + 1, etag: e })),
      );
    } catch (e) {
      // A completion whose answer was lost is retried into NoSuchUpload: the object may be whole.
      if (!(e instanceof S3Error && e.info.code === "NoSuchUpload")) throw e;
      etag = (await this.head(key.slice(this.#opts.prefix.length)))?.etag ?? "";
    }
    // Ceph RGW (16.x) answers a completion with an empty ETag: ask for the object's.
    if (etag === "") etag = (await this.head(key.slice(this.#opts.prefix.length)))?.etag ?? "";
    if (etag !== want) throw this.#mismatch(key, etag, want);
    // An upload begun just before a crash, whose id never reached the journal, would keep its
    // parts on the server for ever: with this key whole, any upload still open for it is such.
    for (const u of await listUploads(this.s3, key)) {
      if (u.key === key) await abortMultipart(this.s3, key, u.uploadId);
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    const full = this.fullKey(key);
    const res = await this.s3.send({ method: "HEAD", key: full, accept: [404] });
    await res.body?.cancel();
    if (res.status === 404) return null;
    const sha256 = res.headers.get("x-amz-meta-sha256");
    const versionId = res.headers.get("x-amz-version-id");
    const lockedUntil = res.headers.get("x-amz-object-lock-retain-until-date");
    return {
      key,
      bytes: Number(res.headers.get("content-length")),
      etag: unquote(res.headers.get("etag") ?? ""),
      ...(sha256 ? { sha256 } : {}),
      ...(versionId ? { versionId } : {}),
      ...(lockedUntil ? { lockedUntil } : {}),
    };
  }

  /**
   * Size and recorded SHA-256 must agree, and the ETag must be the file's MD5 or the multipart
   * ETag of the file cut in this sink's parts.
   */
  async matches(stored: StoredObject, file: LocalFile): Promise<boolean> {
    if (stored.bytes !== file.bytes || stored.sha256 !== file.sha256) return false;
    if (stored.etag === file.md5) return true;
    if (!/-\d+$/.test(stored.etag)) return false;
    const partBytes = Math.max(this.#opts.partBytes, Math.ceil(file.bytes / MAX_PARTS));
    const md5s: string[] = [];
    for (let at = 0; at < file.bytes; at += partBytes) {
      const body = await readSlice(file.path, at, Math.min(partBytes, file.bytes - at));
      md5s.push(createHash("md5").update(body).digest("hex"));
    }
    return stored.etag === multipartEtag(md5s);
  }

  #mismatch(key: string, got: string, want: string): S3Error {
    return new S3Error(
      `Cannot upload ${this.s3.where(key)}: the server's ETag ${got} is not the local ${want}`,
      { target: this.name, key },
    );
  }
}

/** `length` bytes of a file from `offset`. */
async function readSlice(path: string, offset: number, length: number): Promise<Uint8Array> {
  using f = await Deno.open(path, { read: true });
  await f.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  for (let at = 0; at < length;) {
    const n = await f.read(out.subarray(at));
    if (n === null) throw new RangeError(`Cannot read ${length} bytes at ${offset} of ${path}`);
    at += n;
  }
  return out;
}
