#!/usr/bin/env bash
# Vigil's main job on an embedded default: a throwaway PostgreSQL with pgAudit, a WAL and a
# pgAudit source on it, a local data dir (.local/) and the web UI on 127.0.0.1 (scripts/local.ts).
# Installs what it needs first (scripts/setup.sh). Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deno=$(bash scripts/setup.sh)
exec "$deno" run --quiet --allow-read --allow-write --allow-env --allow-sys=statfs,uid,gid \
  --allow-net=127.0.0.1,localhost --allow-run \
  --allow-ffi=/usr/lib/x86_64-linux-gnu/libcrypto.so.3,.tools/native/libvigil_hash.so \
  scripts/local.ts "$@"
