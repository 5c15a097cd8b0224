#!/usr/bin/env bash
# Installs what Vigil needs on a Debian machine with Node and npm: the pinned Deno from the npm
# package `deno` (into .tools/, no global change); when running as root and they are missing,
# PostgreSQL 15 with pgAudit, gcc and OpenSSL's headers from Debian's packages; and builds the
# store's native hashing library into .tools/native/. With --tests, also what only the tests
# use: Ceph (a real RADOS Gateway on loopback), Chromium (the web UI tests), aiosmtpd (a real
# SMTP relay with STARTTLS and AUTH for the mail alerts), and the proxy source's real clients and
# reference: Python psycopg 3, the PostgreSQL JDBC driver on a JRE (whose runtime image can run
# a single-file Java program, so no JDK is needed) and pgbouncer; and pyarrow, the Python
# reader of the export archive, in a venv under .tools/ from the Python package index that pip is
# set up with (the machine's own wheel files). Idempotent; prints the Deno path.
set -euo pipefail
DENO_VERSION=2.9.6
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
deno="$tools/node_modules/deno/deno"

if ! [ -x "$deno" ] || ! "$deno" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
  mkdir -p "$tools"
  [ -f "$tools/package.json" ] || echo '{"private":true}' >"$tools/package.json"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >&2
fi

need_pkgs=()
command -v gcc >/dev/null || need_pkgs+=(gcc libc6-dev)
[ -f /usr/include/openssl/sha.h ] || need_pkgs+=(libssl-dev)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_pkgs+=(postgresql-15)
[ -f /usr/lib/postgresql/15/lib/pgaudit.so ] || need_pkgs+=(postgresql-15-pgaudit)
command -v runuser >/dev/null || need_pkgs+=(util-linux)
if [ "${1:-}" = "--tests" ]; then
  command -v radosgw >/dev/null || need_pkgs+=(ceph-mon ceph-osd radosgw)
  [ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
  [ -f /usr/lib/python3/dist-packages/aiosmtpd/__init__.py ] || need_pkgs+=(python3-aiosmtpd)
  [ -f /usr/lib/python3/dist-packages/psycopg/__init__.py ] || need_pkgs+=(python3-psycopg)
  [ -f /usr/share/java/postgresql.jar ] || need_pkgs+=(libpostgresql-jdbc-java)
  command -v java >/dev/null || need_pkgs+=(default-jre-headless)
  [ -x /usr/sbin/pgbouncer ] || need_pkgs+=(pgbouncer)
fi
if ((${#need_pkgs[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_pkgs[*]} from Debian's packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
  else
    echo "missing Debian packages: ${need_pkgs[*]} (run as root once, or install them)" >&2
  fi
fi
if [ "${1:-}" = "--tests" ] && ! "$tools/pyarrow/bin/python" -c "import pyarrow" 2>/dev/null; then
  # Not Debian's: it does not package pyarrow. A failure here fails the reader test that needs it.
  rm -rf "$tools/pyarrow"
  if python3 -m venv "$tools/pyarrow" >&2 && "$tools/pyarrow/bin/pip" install -q pyarrow >&2; then
    :
  else
    echo "could not install pyarrow into $tools/pyarrow (the archive reader test needs it)" >&2
  fi
fi
# The store's native hashing loops (native/vigil_hash.c); without them Vigil falls back to
# hashing record by record, which is correct but several times slower.
lib="$tools/native/libvigil_hash.so"
src="$root/native/vigil_hash.c"
if ! [ -f "$lib" ] || [ "$src" -nt "$lib" ]; then
  mkdir -p "$tools/native"
  if gcc -O2 -fPIC -shared -o "$lib.tmp" "$src" -lcrypto >&2; then
    mv "$lib.tmp" "$lib"
  else
    echo "could not build $lib; the store will hash record by record" >&2
  fi
fi
echo "$deno"
