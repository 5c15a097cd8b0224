/**
 * A small S3 client over `aws4fetch`: path-style requests to one bucket, SigV4-signed with the
 * body covered (`x-amz-content-sha256` is the payload's real hash, and `Content-MD5` lets the
 * server refuse a body damaged on the way), retries with full-jitter exponential backoff on
 * network errors, 5xx and throttling — never on 4xx, so wrong credentials fail at once — and
 * errors that name the endpoint, bucket, key and S3 error code. Object keys are percent-encoded
 * one path segment at a time: a raw `+` or `%` would otherwise reach the signature differently
 * from the server's reading of the path.
 */

import { AwsClient } from "aws4fetch";
import { createHash } from "node:crypto";
import { SinkError } from "./sink.ts";

/** Where and as whom to connect. */
export interface S3Config {
  /** `http(s)://host:port`, no path. */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Retries after the first attempt of a request; default 5. */
  retries?: number;
  /** First backoff ceiling; doubles per retry up to 20 s. Default 200 ms. */
  backoffMs?: number;
  /** Per-attempt timeout; default 120 s. */
  timeoutMs?: number;
}

/** An S3 request that failed; `info.code` is the S3 error code when the server sent one. */
export class S3Error extends SinkError {
  override name = "S3Error";
}

/** A request to make. */
export interface S3Request {
  method: "GET" | "PUT" | "POST" | "HEAD" | "DELETE";
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses that are answers, not errors (404 for HEAD). */
  accept?: number[];
  signal?: AbortSignal;
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const MAX_BACKOFF_MS = 20_000;

/** Signs and sends requests to one bucket. */
export class S3Client {
  readonly endpoint: string;
  readonly bucket: string;
  readonly #aws: AwsClient;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #timeoutMs: number;
  /** Requests retried so far, for metrics and tests. */
  retried = 0;

  constructor(cfg: S3Config) {
    this.endpoint = cfg.endpoint.replace(/\/+$/, "");
    this.bucket = cfg.bucket;
    // aws4fetch's own retries would retry a 403 as well as hide the cause: ours are used.
    this.#aws = new AwsClient({
      accessKeyId: cfg.accessKeyId,
      secretAccessKey: cfg.secretAccessKey,
      region: cfg.region,
      service: "s3",
      retries: 0,
    });
    this.#retries = cfg.retries ?? 5;
    this.#backoffMs = cfg.backoffMs ?? 200;
    this.#timeoutMs = cfg.timeoutMs ?? 120_000;
  }

  /** `s3://bucket/key`, for messages. */
  where(key?: string): string {
    return `s3://${this.bucket}/${key ?? ""} at ${this.endpoint}`;
  }

  /** The URL of a key (or the bucket), each key segment percent-encoded. */
  url(key?: string, query: Record<string, string> = {}): string {
    let path = `/${encodeSegment(this.bucket)}`;
    if (key !== undefined) path += "/" + key.split("/").map(encodeSegment).join("/");
    const qs = Object.entries(query)
      .map(([k, v]) => v === "" ? encodeSegment(k) : `${encodeSegment(k)}=${encodeSegment(v)}`)
      .join("&");
    return `${this.endpoint}${path}${qs ? `?${qs}` : ""}`;
  }

  /**
   * Sends a request, retrying what may succeed on a second try. Resolves with a response whose
   * status is 2xx or in `accept`; throws S3Error otherwise.
   */
  async send(req: S3Request): Promise<Response> {
    const body = req.body;
    const headers: Record<string, string> = {
      ...req.headers,
      "x-amz-content-sha256": body ? sha256Hex(body) : EMPTY_SHA256,
    };
    if (body) headers["content-md5"] = createHash("md5").update(body).digest("base64");
    const url = this.url(req.key, req.query);
    let last: unknown;
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) {
        this.retried++;
        const ceiling = Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2 ** (attempt - 1));
        await sleep(Math.random() * ceiling, req.signal);
      }
      req.signal?.throwIfAborted();
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      let res: Response;
      try {
        const signed = await this.#aws.sign(url, {
          method: req.method,
          headers,
          ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
        });
        res = await fetch(signed, { signal });
      } catch (e) {
        if (req.signal?.aborted) throw e;
        last = e; // connection refused or reset, timeout: worth another try
        continue;
      }
      if (res.ok || req.accept?.includes(res.status)) return res;
      const text = req.method === "HEAD"
        ? await this.#headErrorBody(url, res)
        : await res.text().catch(() => "");
      const err = this.#error(req, res, text);
      if (!err.info.retryable) throw err;
      last = err;
    }
    if (last instanceof S3Error) throw last;
    throw new S3Error(
      `Cannot ${req.method} ${this.where(req.key)}: ${(last as Error)?.message ?? last} ` +
        `(after ${this.#retries + 1} attempts)`,
      { target: this.bucket, ...(req.key !== undefined ? { key: req.key } : {}), retryable: true },
      { cause: last },
    );
  }

  /**
   * A HEAD answer has no body, so a refused HEAD cannot say why: the same URL is asked once more
   * as a one-byte GET, whose error body carries the S3 code (SignatureDoesNotMatch, …).
   */
  async #headErrorBody(url: string, res: Response): Promise<string> {
    await res.body?.cancel();
    if (res.status !== 400 && res.status !== 403) return "";
    try {
      const signed = await this.#aws.sign(url, {
        method: "GET",
        headers: { range: "bytes=0-0", "x-amz-content-sha256": EMPTY_SHA256 },
      });
      const again = await fetch(signed, { signal: AbortSignal.timeout(this.#timeoutMs) });
      if (again.ok) {
        await again.body?.cancel();
        return "";
      }
      return await again.text();
    } catch {
      return "";
    }
  }

  #error(req: S3Request, res: Response, text: string): S3Error {
    const code = xmlValue(text, "Code") ??
      (res.status === 403 ? "Forbidden" : res.status === 404 ? "NotFound" : undefined);
    const message = xmlValue(text, "Message");
    const retryable = res.status >= 500 || res.status === 429 || code === "SlowDown" ||
      code === "RequestTimeout";
    let hint = "";
    if (code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch") {
      hint = "; check the access and secret key files";
    } else if (res.status === 403 && code === "Forbidden") {
      hint = "; wrong credentials, or no permission on the bucket";
    }
    return new S3Error(
      `Cannot ${req.method} ${this.where(req.key)}: ${res.status} ${code ?? res.statusText}` +
        `${message ? ` (${message})` : ""}${hint}`,
      {
        target: this.bucket,
        ...(req.key !== undefined ? { key: req.key } : {}),
        status: res.status,
        ...(code ? { code } : {}),
        retryable,
      },
    );
  }

  /** Creates the bucket, with Object Lock enabled when asked (versioning comes with it). */
  async createBucket(opts: { objectLock?: boolean } = {}): Promise<void> {
    const res = await this.send({
      method: "PUT",
      headers: opts.objectLock ? { "x-amz-bucket-object-lock-enabled": "true" } : {},
    });
    await res.body?.cancel();
  }

  /** Every key under `prefix` with its size and ETag (ListObjectsV2, all pages). */
  async list(prefix = ""): Promise<{ key: string; bytes: number; etag: string }[]> {
    const out: { key: string; bytes: number; etag: string }[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (token) query["continuation-token"] = token;
      const xml = await (await this.send({ method: "GET", query })).text();
      for (const c of xmlBlocks(xml, "Contents")) {
        out.push({
          key: xmlValue(c, "Key") ?? "",
          bytes: Number(xmlValue(c, "Size")),
          etag: unquote(xmlValue(c, "ETag") ?? ""),
        });
      }
      token = xmlValue(xml, "IsTruncated") === "true"
        ? xmlValue(xml, "NextContinuationToken")
        : undefined;
    } while (token);
    return out;
  }
}

/** Percent-encodes one path segment or query part as SigV4 wants it (RFC 3986 unreserved). */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The text of the first `<tag>` element, XML entities decoded. */
export function xmlValue(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? decodeEntities(m[1]!) : undefined;
}

/** The inner text of every `<tag>` element. */
export function xmlBlocks(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]!);
}

/** Escapes text for an XML element. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An ETag without its quotes. */
export function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === "#") {
      return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[e]!;
  });
}

function sha256Hex(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}
