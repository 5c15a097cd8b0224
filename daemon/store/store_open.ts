/**
 * Opening a data directory for writing: take the writer lock, load or create the signing key,
 * recover the active segment, check the log against the latest signed checkpoint, and bring the
 * Merkle node files up to the log (they are only fsynced at checkpoints, so their tail is
 * rebuilt from the records after the last one; the leaves of the last incomplete block, which
 * no file holds, come from the log's tail).
 */

import { log } from "../log.ts";
import { type Checkpoint, CHECKPOINTS_FILE, readCheckpoints } from "./checkpoint.ts";
import { StoreDamageError, StoreLockedError } from "./errors.ts";
import { encodeCommitFrame, GENESIS_CHAIN, HEADER_SIZE } from "./frame.ts";
import { ensureDataFormat } from "./format.ts";
import { type Handover, parseKeyEvent, readHandovers } from "./key_handover.ts";
import { type LostKey, settlePendingKey, writePending } from "./key_rotation.ts";
import {
  generateKey,
  KEY_HISTORY_DIR,
  keyIdOf,
  loadOrCreateKey,
  MissingKeyError,
  parsePublicKey,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  type SigningKey,
} from "./keys.ts";
import { MerkleLevels } from "./merkle_levels.ts";
import { catchUpLevels } from "./merkle_replay.ts";
import { recoverActive } from "./recovery.ts";
import { listSegments, SegmentBuffer, type SegmentEntry } from "./segment_file.ts";
import { SegmentWriter, syncDir } from "./segment_writer.ts";

/** Tunables of a store. */
export interface StoreOptions {
  maxSegmentBytes: number;
  maxSegmentAgeMs: number;
  /** 0 disables the timer; checkpoints are then written on close and on demand. */
  checkpointIntervalMs: number;
  /** Longest tail that may be treated as torn by a crash (one group commit's worth). */
  maxTornBytes: number;
  /** How long to wait for another writer to release the data directory. */
  lockTimeoutMs: number;
  /** Hash on a Worker (the second core); off for processes that open a store very often. */
  hashWorker: boolean;
  /**
   * Called after every group commit: how many bytes and events one fdatasync covered, and how
   * long the write and its fdatasync took.
   */
  onCommit?: (info: { bytes: number; events: number; seconds: number }) => void;
  /** Called when a group could not be written (disk full, I/O error): for health and alerts. */
  onWriteError?: (error: unknown) => void;
  /**
   * Called with each checkpoint once it is in `checkpoints.jsonl`, before the next is signed:
   * for a copy kept outside the data directory (`serve/checkpoint_copy.ts`). A rejection is
   * logged; the checkpoint stands.
   */
  onCheckpoint?: (cp: Checkpoint) => Promise<void>;
  /**
   * Store sealed segments compressed (`segment_compress.ts`), each in the background as it is
   * sealed. Segments sealed before (a data format 1 directory) stay as they are until
   * `vigil compact` asks; readers take both.
   */
  compressSealed: boolean;
  /**
   * When the signing key is missing although checkpoints exist: declare it lost and start a new
   * key (`vigil key rotate --recover`) instead of refusing to open. `by` names who declared it.
   */
  recoverLostKey?: { by?: string; reason?: string };
}

export const DEFAULT_STORE_OPTIONS: StoreOptions = {
  maxSegmentBytes: 64 * 1024 * 1024,
  maxSegmentAgeMs: 60 * 60 * 1000,
  checkpointIntervalMs: 60 * 1000,
  maxTornBytes: 128 * 1024 * 1024,
  lockTimeoutMs: 2000,
  hashWorker: true,
  compressSealed: false,
};

/** Directory layout of a data dir. */
export function storePaths(dataDir: string): {
  segments: string;
  merkle: string;
  keys: string;
  checkpoints: string;
  lock: string;
} {
  return {
    segments: `${dataDir}/segments`,
    merkle: `${dataDir}/merkle`,
    keys: `${dataDir}/keys`,
    checkpoints: `${dataDir}/${CHECKPOINTS_FILE}`,
    lock: `${dataDir}/LOCK`,
  };
}

/** Everything `Store` needs from opening. */
export interface OpenedStore {
  dataDir: string;
  opts: StoreOptions;
  writer: SegmentWriter;
  levels: MerkleLevels;
  key: SigningKey;
  /** A sealed segment the last run did not get to compress (`compressSealed`). */
  uncompressed: SegmentEntry[];
  /** Set when opened with `recoverLostKey` and the key was indeed lost. */
  lostKey: LostKey | null;
  lastCheckpoint: Checkpoint | null;
  appendCheckpoint: (cp: Checkpoint) => Promise<void>;
  release: () => Promise<void>;
}

async function takeLock(path: string, timeoutMs: number): Promise<Deno.FsFile> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((
    r,
  ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
  const got = await Promise.race([file.lock(true).then(() => "locked" as const), timeout]);
  clearTimeout(timer);
  if (got === "timeout") {
    const holder = new TextDecoder().decode(await Deno.readFile(path)).trim();
    throw new StoreLockedError(
      `data directory is in use by another writer${holder ? ` (pid ${holder})` : ""}: ${path}`,
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}

/**
 * Loads the signing key: created only while nothing is signed; a missing one is refused (or,
 * with `recover`, replaced by a new key to be declared in the chain); a key file that is not the
 * log's current key — the last handover's new key, or the key of the last checkpoint — is
 * refused too, since everything it signed would fail verification.
 */
async function openKey(
  keysDir: string,
  lastCp: Checkpoint | null,
  recover: StoreOptions["recoverLostKey"],
): Promise<{ key: SigningKey; lostKey: LostKey | null }> {
  let handovers: Handover[];
  try {
    handovers = await readHandovers(keysDir);
  } catch (e) {
    throw new StoreDamageError(`key handovers unreadable: ${(e as Error).message}`);
  }
  await settlePendingKey(keysDir, handovers);
  const last = handovers[handovers.length - 1];
  const expected = last ? parseKeyEvent(last.event, last.seq).newKeyId : lastCp?.key_id;
  let key: SigningKey;
  try {
    key = await loadOrCreateKey(keysDir, { mayCreate: expected === undefined });
  } catch (e) {
    if (!(e instanceof MissingKeyError) || !recover) throw e;
    const next = await generateKey();
    await writePending(keysDir, next);
    const lostKey: LostKey = { keyId: expected!, next };
    const pub = await lostPublicKey(keysDir, expected!);
    if (pub) lostKey.publicRaw = pub;
    return { key: next.key, lostKey };
  }
  if (recover) {
    throw new Error(
      `Cannot recover: the signing key ${keysDir}/${PRIVATE_KEY_FILE} is there (key ` +
        `${key.keyId}); rotate it with \`vigil key rotate\` instead`,
    );
  }
  if (expected !== undefined && key.keyId !== expected) {
    throw new MissingKeyError(
      `Cannot open the store: ${keysDir}/${PRIVATE_KEY_FILE} is key ${key.keyId}, but the log is ` +
        `signed by key ${expected} and no key rotation introduced ${key.keyId}. Put key ` +
        `${expected} back, or move the file aside and declare ${expected} lost with ` +
        `\`vigil key rotate --recover --data DIR\`.`,
    );
  }
  return { key, lostKey: null };
}

/** The public half of a lost key, from the history or `signing.pub`, if either still has it. */
async function lostPublicKey(keysDir: string, keyId: string): Promise<Uint8Array | undefined> {
  for (const p of [`${KEY_HISTORY_DIR}/${keyId}.pub`, PUBLIC_KEY_FILE]) {
    try {
      const raw = parsePublicKey(await Deno.readTextFile(`${keysDir}/${p}`));
      if (keyIdOf(raw) === keyId) return raw;
    } catch {
      // Missing or unreadable: the loss is declared without the public key.
    }
  }
  return undefined;
}

/** Opens a data directory for writing. */
export async function openStore(
  dataDir: string,
  partial: Partial<StoreOptions>,
): Promise<OpenedStore> {
  const opts = { ...DEFAULT_STORE_OPTIONS, ...partial };
  const paths = storePaths(dataDir);
  await Deno.mkdir(paths.segments, { recursive: true, mode: 0o700 });
  await Deno.mkdir(paths.merkle, { recursive: true, mode: 0o700 });
  const lock = await takeLock(paths.lock, opts.lockTimeoutMs);
  try {
    await ensureDataFormat(dataDir);
    const cpFile = await readCheckpoints(paths.checkpoints);
    if (cpFile.partialBytes > 0) {
      log("warn", "removed a torn checkpoint line", { bytes: cpFile.partialBytes });
      await Deno.truncate(paths.checkpoints, cpFile.goodBytes);
    }
    const lastCp = cpFile.checkpoints[cpFile.checkpoints.length - 1] ?? null;
    const { key, lostKey } = await openKey(paths.keys, lastCp, opts.recoverLostKey);

    let segments = await listSegments(paths.segments);
    const last = segments[segments.length - 1];
    if (last && segments.length > 1 && (await Deno.stat(last.path)).size < HEADER_SIZE) {
      // A crash while creating the next segment: the sealed one before it holds the log's end.
      log("warn", "removed a segment whose creation was cut off", { segment: last.name });
      await Deno.remove(last.path);
      segments = segments.slice(0, -1);
    }

    let writer: SegmentWriter;
    // One buffer for every whole segment the opening reads: the active one for its recovery,
    // then again (and any after the last checkpoint) for the Merkle replay. Each read into a new
    // buffer held up to 64 MiB until the next collection, and three at once at every start.
    const buffer = new SegmentBuffer();
    const uncompressed: SegmentEntry[] = [];
    if (segments.length === 0) {
      const c = await SegmentWriter.create(paths.segments, 0, GENESIS_CHAIN);
      writer = new SegmentWriter({
        dir: paths.segments,
        ...c,
        nextSeq: 0,
        chain: GENESIS_CHAIN,
        positions: new Map(),
      }, opts);
      segments = await listSegments(paths.segments);
    } else {
      const state = await recoverActive(segments, { maxTornBytes: opts.maxTornBytes, buffer });
      if (state.uncompressedPrev) uncompressed.push(state.uncompressedPrev);
      const active = state.segment.entry;
      if (lastCp && state.nextSeq < lastCp.size) {
        throw new StoreDamageError(
          `log ends at seq ${state.nextSeq} but the checkpoint signed at ${lastCp.ts} µs covers ` +
            `${lastCp.size} events: records were removed`,
          { segment: active.name, offset: state.size, seq: state.nextSeq },
        );
      }
      if (state.torn) {
        log("warn", "truncated a torn tail left by a crash", {
          segment: active.name,
          offset: state.torn.offset,
          bytes: state.torn.bytes,
          reason: state.torn.reason,
        });
        await Deno.truncate(active.path, state.size);
      }
      const file = await Deno.open(active.path, { read: true, write: true });
      await file.seek(state.size, Deno.SeekMode.Start);
      writer = new SegmentWriter({
        dir: paths.segments,
        file,
        name: active.name,
        size: state.size,
        createdMs: Math.floor(state.segment.header.createdUs / 1000),
        firstSeq: state.segment.header.firstSeq,
        nextSeq: state.nextSeq,
        chain: state.chain,
        positions: state.positions,
      }, opts);
      if (state.needsCommitMark) {
        // What the segment holds is whole (a data format 1 log, or a new segment whose first
        // commit frame was cut off): from here on, groups end with commit frames.
        await writer.write(encodeCommitFrame(state.chain, state.nextSeq, lastCp?.size ?? 0));
      }
      if (state.sealed) {
        file.close();
        const c = await SegmentWriter.create(
          paths.segments,
          state.nextSeq,
          state.chain,
          lastCp?.size ?? 0,
        );
        writer = new SegmentWriter({
          dir: paths.segments,
          ...c,
          nextSeq: state.nextSeq,
          chain: state.chain,
          positions: state.positions,
        }, opts);
        segments = await listSegments(paths.segments);
      }
    }

    writer.signedSize = lastCp?.size ?? 0;
    const levels = await MerkleLevels.open(paths.merkle);
    try {
      await catchUpLevels(dataDir, segments, levels, lastCp, writer.nextSeq, buffer);
    } catch (e) {
      levels.close();
      throw e;
    }

    const appendCheckpoint = async (cp: Checkpoint): Promise<void> => {
      const f = await Deno.open(paths.checkpoints, {
        append: true,
        create: true,
        mode: 0o644,
      });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(cp) + "\n"));
        await f.syncData();
      } finally {
        f.close();
      }
      if (!lastCp) await syncDir(dataDir);
    };
    const release = async (): Promise<void> => {
      await lock.unlock();
      lock.close();
    };
    return {
      dataDir,
      opts,
      writer,
      levels,
      key,
      lostKey,
      uncompressed,
      lastCheckpoint: lastCp,
      appendCheckpoint,
      release,
    };
  } catch (e) {
    lock.close();
    throw e;
  }
}
