/**
 * Where exported files go: one `Sink` interface for every kind of target (a local directory, an
 * S3-compatible object store), so that the exporter's plan → upload → confirm → done cycle is
 * the same for all of them. A sink promises that `put` resolves only once the object is durable
 * at the target and its content was checked against the local file (a checksum the target
 * computed over what it received), and that `head` tells what the target really holds, so that a
 * restarted export can confirm earlier uploads instead of trusting its journal alone.
 */

/** A local file to upload, with the hashes the exporter computed when it wrote it. */
export interface LocalFile {
  path: string;
  bytes: number;
  /** Hex SHA-256 and MD5 of the whole file. */
  sha256: string;
  md5: string;
}

/** An object as the target holds it. */
export interface StoredObject {
  key: string;
  bytes: number;
  /** The target's checksum of the object: an S3 ETag, or the SHA-256 of a file. */
  etag: string;
  /** The SHA-256 recorded with the object, when the target keeps one. */
  sha256?: string;
  /** The object's version, on a versioned bucket. */
  versionId?: string;
  /** Object Lock retain-until date (RFC 3339), when the object is locked. */
  lockedUntil?: string;
}

/** One part of a multipart upload that the target has confirmed. */
export interface UploadedPart {
  part: number;
  etag: string;
  bytes: number;
}

/**
 * Hooks through which a sink reports the steps of a long upload, so the exporter can journal
 * them and resume after a crash. Sinks without multi-step uploads never call them.
 */
export interface PutOptions {
  /** An upload begun before a crash: resume it (its confirmed parts are kept when they match). */
  resumeUploadId?: string;
  /** Called once a multipart upload exists, before its first part is sent. */
  onUploadStarted?: (uploadId: string) => Promise<void>;
  /** Called after each part is confirmed. */
  onPart?: (uploadId: string, part: UploadedPart) => Promise<void>;
  /** Called as bytes go out, for progress. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** An export target. */
export interface Sink {
  /** The target's configured name. */
  readonly name: string;
  /** Where it writes, for messages: `s3://bucket/prefix at https://host`, `dir /path`. */
  readonly location: string;
  /** Uploads `file` to `key`; resolves once durable at the target and checked. */
  put(key: string, file: LocalFile, opts?: PutOptions): Promise<StoredObject>;
  /** What the target holds at `key`, or null when nothing. */
  head(key: string): Promise<StoredObject | null>;
  /** True when `stored` is `file`, as far as the target's checksums can tell. */
  matches(stored: StoredObject, file: LocalFile): Promise<boolean>;
  /**
   * Makes an object found at the target immutable as configured (Object Lock retention), for an
   * object uploaded before a crash and confirmed by `head`; `put` does it itself.
   */
  seal?(key: string, stored: StoredObject): Promise<StoredObject>;
}

/** A sink could not do what was asked; the message names the target, the key and the cause. */
export class SinkError extends Error {
  override name = "SinkError";
  constructor(
    message: string,
    readonly info: {
      target: string;
      key?: string;
      status?: number;
      code?: string;
      retryable?: boolean;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
