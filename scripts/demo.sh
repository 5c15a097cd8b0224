#!/usr/bin/env bash
# Vigil's main job on this machine, end to end: a fresh store in .demo/, the sample audit events
# ingested (durably, hash-chained, Merkle-tree'd, checkpoint signed), the store verified, a
# search, an inclusion proof for one event, a signed Parquet bundle exported and verified
# offline — and a copy of the store with one flipped byte, which verify catches and names.
# Re-runnable; removes nothing outside .demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deno=$(bash "$root/scripts/setup.sh")
demo="${VIGIL_DEMO_DIR:-$root/.demo}"
data="$demo/data"
rm -rf "$demo"
mkdir -p "$demo"

# parquet-wasm's .wasm is read from Deno's npm cache at run time.
npm_cache=$("$deno" info --json | sed -n 's/.*"npmCache": *"\([^"]*\)".*/\1/p')
vigil() {
  "$deno" run --quiet --no-prompt --allow-read="$root,$demo,$npm_cache" --allow-write="$demo" \
    --allow-env --allow-ffi="/usr/lib/x86_64-linux-gnu/libcrypto.so.3,$root/.tools/native/libvigil_hash.so" "$root/daemon/main.ts" "$@"
}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "ingest the sample events"
vigil ingest --data "$data" --source demo <"$root/daemon/demo/sample_events.jsonl"

step "verify the store"
vigil verify --data "$data"

step "query: failed logins and reads of public.accounts"
vigil query --data "$data" --kind auth --format table
vigil query --data "$data" --object public.accounts --format table

step "full-text search: statements mentioning salary"
vigil query --data "$data" --text salary --format jsonl

step "prove that event 7 is in the signed tree"
vigil prove --data "$data" --seq 7 | head -20

step "export a signed air-gapped bundle and verify it as an auditor would, offline"
vigil export --data "$data" --out "$demo/bundle"
find "$demo/bundle" -type f | sed "s#$demo/##" | sort
vigil verify-bundle "$demo/bundle"

step "tamper with a copy: flip one byte of event 6's statement, then verify"
cp -r "$data" "$demo/tampered"
chmod -R u+w "$demo/tampered"
seg=$(ls "$demo/tampered/segments/"*.vseg | head -1)
offset=$(grep -abo 'ORDER BY salary' "$seg" | head -1 | cut -d: -f1)
printf 'X' | dd of="$seg" bs=1 seek="$offset" conv=notrunc status=none
if vigil verify --data "$demo/tampered"; then
  echo "verify did not catch the tampering" >&2
  exit 1
fi
echo
echo "Demo done: store in $data (remove with: rm -rf $demo)"
