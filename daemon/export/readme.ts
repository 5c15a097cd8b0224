/**
 * The README.txt of a bundle: what an auditor who has never seen Vigil needs to check it, with
 * `vigil verify-bundle` or by hand (openssl, sha256sum, DuckDB), and to query it.
 */

import { formatRfc3339Micros } from "../event/time.ts";
import type { Manifest } from "./manifest.ts";

/** The README text for a bundle with this manifest. */
export function bundleReadme(m: Manifest): string {
  const cp = m.checkpoint;
  const asked = m.requested.from === null && m.requested.to === null
    ? "every signed event"
    : `events with ${m.requested.from ?? "any time"} <= ts < ${m.requested.to ?? "any time"}`;
  return `Vigil audit bundle
==================

A signed export of the audit log of one Vigil appliance.

  events       seq ${m.range.first_seq} to ${m.range.last_seq}, ${m.range.events} events: every event of that
               stretch of the log, whatever its source or time
  asked for    ${asked}
  signed by    key ${m.key_id} (public_key.pem)
  checkpoint   tree of ${cp.size} events, root ${cp.root},
               signed ${formatRfc3339Micros(cp.ts)}

The log is one Merkle tree over all events in seq order, so a bundle holds a contiguous run of
seqs: the first to the last event in the time range asked for, with all events in between.

Files
  manifest.json    every file with its SHA-256, rows and seqs; the checkpoints and proofs that
                   tie the rows to the appliance's signed log
  manifest.sig     Ed25519 signature of manifest.json (64 raw bytes)
  public_key.pem   the appliance's checkpoint-signing public key. Compare it with a copy you
                   obtained apart from this bundle: anyone can make a bundle with their own key.
                   If the appliance rotated its key since you got your copy, the manifest's
                   key_handovers lead from your key to this one: each names the new public key
                   in a KEY_ROTATE event, proven to be in a checkpoint signed by the old key.
  events/date=<yyyy-mm-dd>/<first seq>-<last seq>.parquet
                   the events, one file per source and UTC day of event time: a Hive-
                   partitioned table (key date) that DuckDB and pyarrow (and by their Hive
                   rules Spark and Trino) read as it is; the source is a column, not a folder

Verify with Vigil (needs nothing of the appliance):
  vigil verify-bundle <this directory> --pubkey <your copy of the public key>
  Exit 0: intact. 1: tampered or damaged, the first problem is named. 2: usage error.

Verify by hand:
  1. The signature (OpenSSL 3):
       openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
         -in manifest.json -sigfile manifest.sig
  2. The files: each SHA-256 equals its entry in manifest.json, and no other file is present
     but these four:
       sha256sum events/date=*/*.parquet
  3. The rows: together the files hold each seq of the range exactly once. With DuckDB:
       SELECT count(*), count(DISTINCT seq), min(seq), max(seq)
       FROM read_parquet('events/date=*/*.parquet', hive_partitioning = true);
  4. The tie to the signed log. An event's canonical JSON (fields in schema order, absent ones
     left out, no white space) is a leaf of an RFC 9162 Merkle tree: leaf hash
     SHA-256(0x00 || json). Append the leaves in seq order to manifest.frontier (the subtrees
     before the bundle), then manifest.suffix.nodes (those after it): the root must equal
     manifest.checkpoint.root. The chain, chain = SHA-256(chain || leaf hash) from
     manifest.chain_before, must end at manifest.chain_after. Each checkpoint is an Ed25519
     signature (base64) over six lines, each ending in a newline: "vigil-checkpoint v1",
     "key <key_id>", "size <size>", "root <root>", "chain <chain>", "ts <ts>".
     manifest.consistency proves that the checkpoint extends manifest.previous_checkpoint
     (RFC 9162, section 2.1.4). vigil verify-bundle does all of this.

Query with DuckDB, from this directory:
  SELECT date, source, kind, count(*)
  FROM read_parquet('events/date=*/*.parquet', hive_partitioning = true)
  GROUP BY ALL ORDER BY ALL;
or with pyarrow:
  pyarrow.dataset.dataset("events", format="parquet", partitioning="hive").to_table()

ts and ingest_ts are TIMESTAMP WITH TIME ZONE (UTC, microseconds); old_row, new_row and
context are JSON text; params is a list of text. Each file's key-value metadata "vigil" (JSON)
says where its rows sit in the log:
  SELECT file_name, decode(value)::JSON FROM parquet_kv_metadata('events/*/*.parquet')
  WHERE decode(key) = 'vigil';
`;
}
