#!/usr/bin/env bash
# `deno task package`: builds the installable appliance into .tools/package/, offline once the
# caches are warm (Deno's npm cache and npm's own, which scripts/setup.sh fills):
#   .tools/package/vigil_<version>_amd64/      the tree as installed (usr/, lib/, etc/) + DEBIAN/
#   .tools/package/vigil_<version>_amd64.deb   the same tree, built with dpkg-deb
# (or into the directory given as the first argument, as the tests do).
# Contents: the pinned Deno runtime (npm package @deno/linux-x64-glibc, the version setup.sh
# pins), the application bundled with `deno bundle` (vigil.js, its three Workers, parquet-wasm's
# .wasm beside it), the native hashing library, the `vigil` launcher, the systemd unit and
# sysusers snippet, the default config and the README. Prints the .deb's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deno_version=$(sed -nE 's/^DENO_VERSION=([0-9.]+)$/\1/p' scripts/setup.sh)
deno="$root/.tools/node_modules/deno/deno"
# setup.sh (the pinned Deno, the native library) unless both are there already: a container
# build stage prepares them itself and has no use for the test databases setup.sh adds.
if ! [ -f "$root/.tools/native/libvigil_hash.so" ] ||
  [ "$root/native/vigil_hash.c" -nt "$root/.tools/native/libvigil_hash.so" ] ||
  ! "$deno" --version 2>/dev/null | grep -q "^deno $deno_version "; then
  deno=$(bash scripts/setup.sh)
fi
export PATH="$(dirname "$deno"):$PATH"
version=$(sed -nE 's/^  "version": "([^"]+)",?$/\1/p' deno.json | head -1)
[ -n "$deno_version" ] && [ -n "$version" ] || { echo "package: no version found" >&2; exit 1; }
arch=amd64
out=$(mkdir -p "${1:-$root/.tools/package}" && cd "${1:-$root/.tools/package}" && pwd)
name="vigil_${version}_${arch}"
stage="$out/$name"

# The runtime, from npm, cached in .tools/ so that the next build needs neither network nor npm.
runtime_cache="$root/.tools/package-cache/deno-$deno_version"
runtime="$runtime_cache/node_modules/@deno/linux-x64-glibc/deno"
mkdir -p "$root/.tools/package-cache"
# Builds running side by side (test files) fill the cache once.
exec 9>"$root/.tools/package-cache/lock"
flock 9
if ! [ -x "$runtime" ] || ! "$runtime" --version 2>/dev/null | grep -q "^deno $deno_version "; then
  rm -rf "$runtime_cache" "$runtime_cache.tmp"
  mkdir -p "$runtime_cache.tmp"
  echo '{"private":true}' >"$runtime_cache.tmp/package.json"
  npm install --prefix "$runtime_cache.tmp" --prefer-offline --no-audit --no-fund \
    --loglevel=error "@deno/linux-x64-glibc@$deno_version" >&2
  mv "$runtime_cache.tmp" "$runtime_cache"
  "$runtime" --version | grep -q "^deno $deno_version " ||
    { echo "package: $runtime is not Deno $deno_version" >&2; exit 1; }
fi
flock -u 9

rm -rf "$stage" "$out/$name.deb"
lib="$stage/usr/lib/vigil"
mkdir -p "$lib" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
  "$stage/etc/vigil" "$stage/usr/share/doc/vigil" "$stage/DEBIAN"

# The application. The Workers are loaded by URL relative to the bundle
# (`new Worker(new URL("./hash_worker.ts", import.meta.url)…)`), so each is bundled on its own
# under the name the code asks for; Deno strips types from a .ts file, and plain JavaScript has
# none. They are found where the code starts them, in the core and in every plugin, so that a
# source's Worker ships without a line here; two Workers of one name would be one file, and stop
# the build.
bundle() { deno bundle --quiet --platform deno -o "$2" "$1" >&2; }
bundle daemon/main.ts "$lib/vigil.js"
declare -A worker_from=()
while IFS=: read -r wfile wname; do
  wsrc="$(dirname "$wfile")/$wname"
  [ -f "$wsrc" ] || { echo "package: $wfile starts a Worker from $wsrc, which is missing" >&2; exit 1; }
  if [ -n "${worker_from[$wname]:-}" ] && [ "${worker_from[$wname]}" != "$wsrc" ]; then
    echo "package: two Workers are named $wname (${worker_from[$wname]}, $wsrc)" >&2
    exit 1
  fi
  worker_from[$wname]=$wsrc
done < <(grep -rEo --include='*.ts' \
  'new Worker\(new URL\("\./[A-Za-z0-9_]+\.ts", import\.meta\.url\)' daemon plugins web |
  sed -E 's#^([^:]+):.*"\./([^"]+)".*#\1:\2#' | sort -u)
[ "${#worker_from[@]}" -gt 0 ] || { echo "package: no Worker found in the code" >&2; exit 1; }
for wname in "${!worker_from[@]}"; do bundle "${worker_from[$wname]}" "$lib/$wname"; done
# parquet-wasm's .wasm, found where daemon/export/parquet_wasm.ts looks in a bundled build:
# beside the main module.
wasm=$(deno eval --quiet \
  'console.log(new URL(import.meta.resolve("parquet-wasm/esm/parquet_wasm_bg.wasm")).pathname)')
install -m 0644 "$wasm" "$lib/parquet_wasm_bg.wasm"
install -m 0755 "$runtime" "$lib/deno"
native="$root/.tools/native/libvigil_hash.so"
if [ -f "$native" ]; then
  install -m 0644 "$native" "$lib/libvigil_hash.so"
else
  echo "package: $native was not built; the appliance will hash without it (slower)" >&2
fi
install -m 0755 scripts/package/vigil "$stage/usr/bin/vigil"
install -m 0644 systemd/vigil.service "$stage/lib/systemd/system/vigil.service"
install -m 0644 systemd/vigil.sysusers "$stage/usr/lib/sysusers.d/vigil.conf"
install -m 0640 scripts/package/vigil.toml "$stage/etc/vigil/vigil.toml"
install -m 0644 README.md "$stage/usr/share/doc/vigil/README.md"

# The Debian control files.
for f in postinst prerm postrm; do install -m 0755 "scripts/package/$f" "$stage/DEBIAN/$f"; done
echo /etc/vigil/vigil.toml >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: vigil
Version: $version
Architecture: $arch
Maintainer: Vigil maintainers <maintainers@example.org>
Installed-Size: $size
Depends: libc6, libssl3
Section: admin
Priority: optional
Description: tamper-evident audit appliance for PostgreSQL
 Collects audit events from PostgreSQL (logical replication and pgAudit logs)
 into an append-only, hash-chained, Merkle-tree store with signed checkpoints,
 exports them as Parquet and runs as a hardened systemd service.
CONTROL

# zstd: a few seconds for the ~95 MB runtime where xz takes a minute; dpkg reads it since 1.21.
dpkg-deb --root-owner-group -Zzstd -z9 --build "$stage" "$out/$name.deb" >&2
echo "$out/$name.deb"
