/**
 * S3 multipart uploads: create, upload a part, list the parts the server has, complete, abort,
 * and list the uploads left open under a prefix. The ETag S3 gives a part is the MD5 of its
 * bytes, and that of the completed object is the MD5 of the parts' MD5s followed by `-N`:
 * `multipartEtag` computes it locally, so the exporter checks the whole object without reading
 * it back.
 */

import { createHash } from "node:crypto";
import { type S3Client, S3Error, unquote, xmlBlocks, xmlEscape, xmlValue } from "./s3_client.ts";

/** S3's smallest part (except the last) and largest part count. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

/** A part the server holds. */
export interface ServerPart {
  part: number;
  etag: string;
  bytes: number;
}

/** Starts a multipart upload; `headers` (metadata, object lock) apply to the final object. */
export async function createUpload(
  s3: S3Client,
  key: string,
  headers: Record<string, string>,
): Promise<string> {
  const xml = await (await s3.send({ method: "POST", key, query: { uploads: "" }, headers }))
    .text();
  const id = xmlValue(xml, "UploadId");
  if (!id) {
    throw new S3Error(`Cannot start a multipart upload of ${s3.where(key)}: no UploadId`, {
      target: s3.bucket,
      key,
    });
  }
  return id;
}

/** Uploads one part; returns its ETag, checked against the part's MD5. */
export async function uploadPart(
  s3: S3Client,
  key: string,
  upload: { uploadId: string; part: number; body: Uint8Array; signal?: AbortSignal },
): Promise<string> {
  const res = await s3.send({
    method: "PUT",
    key,
    query: { partNumber: String(upload.part), uploadId: upload.uploadId },
    body: upload.body,
    ...(upload.signal ? { signal: upload.signal } : {}),
  });
  await res.body?.cancel();
  const etag = unquote(res.headers.get("etag") ?? "");
  const md5 = createHash("md5").update(upload.body).digest("hex");
  if (etag !== md5) {
    throw new S3Error(
      `Part ${upload.part} of ${s3.where(key)} was stored with ETag ${etag}, not its MD5 ${md5}`,
      { target: s3.bucket, key },
    );
  }
  return etag;
}

/** The parts the server holds for an upload; null when the upload no longer exists. */
export async function listParts(
  s3: S3Client,
  key: string,
  uploadId: string,
): Promise<ServerPart[] | null> {
  const out: ServerPart[] = [];
  let marker = "0";
  for (;;) {
    const res = await s3.send({
      method: "GET",
      key,
      query: { uploadId, "part-number-marker": marker },
      accept: [404],
    });
    const xml = await res.text();
    if (res.status === 404) return null; // NoSuchUpload: completed or aborted
    for (const p of xmlBlocks(xml, "Part")) {
      out.push({
        part: Number(xmlValue(p, "PartNumber")),
        etag: unquote(xmlValue(p, "ETag") ?? ""),
        bytes: Number(xmlValue(p, "Size")),
      });
    }
    if (xmlValue(xml, "IsTruncated") !== "true") return out;
    marker = xmlValue(xml, "NextPartNumberMarker") ?? String(out[out.length - 1]?.part ?? 0);
  }
}

/**
 * Completes an upload from its parts (in part order); returns the object's ETag. The server may
 * answer 200 with an error in the body: that is an error too.
 */
export async function completeUpload(
  s3: S3Client,
  key: string,
  uploadId: string,
  parts: readonly { part: number; etag: string }[],
): Promise<string> {
  const body = new TextEncoder().encode(
    "<CompleteMultipartUpload>" +
      parts.map((p) =>
        `<Part><PartNumber>${p.part}</PartNumber><ETag>"${xmlEscape(p.etag)}"</ETag></Part>`
      ).join("") +
      "</CompleteMultipartUpload>",
  );
  const xml = await (await s3.send({ method: "POST", key, query: { uploadId }, body })).text();
  const code = xmlValue(xml, "Code");
  if (code) {
    throw new S3Error(
      `Cannot complete the upload of ${s3.where(key)}: ${code} (${xmlValue(xml, "Message")})`,
      { target: s3.bucket, key, code, retryable: code === "InternalError" },
    );
  }
  return unquote(xmlValue(xml, "ETag") ?? "");
}

/** Aborts an upload; an upload already gone is not an error. */
export async function abortUpload(s3: S3Client, key: string, uploadId: string): Promise<void> {
  const res = await s3.send({ method: "DELETE", key, query: { uploadId }, accept: [404] });
  await res.body?.cancel();
}

/** Uploads begun and neither completed nor aborted, under `prefix`. */
export async function listUploads(
  s3: S3Client,
  prefix = "",
): Promise<{ key: string; uploadId: string }[]> {
  const xml = await (await s3.send({ method: "GET", query: { uploads: "", prefix } })).text();
  return xmlBlocks(xml, "Upload").map((u) => ({
    key: xmlValue(u, "Key") ?? "",
    uploadId: xmlValue(u, "UploadId") ?? "",
  }));
}

/** The ETag S3 gives an object completed from parts with these MD5s (hex). */
export function multipartEtag(partMd5s: readonly string[]): string {
  const h = createHash("md5");
  for (const m of partMd5s) {
    h.update(Uint8Array.from(m.match(/../g) ?? [], (b) => parseInt(b, 16)));
  }
  return `${h.digest("hex")}-${partMd5s.length}`;
}
