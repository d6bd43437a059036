#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries when they are missing. The tests and benches start their own
# throwaway cluster from these binaries (test/pg/cluster.ts); the packaged "main" cluster is not used.
set -euo pipefail
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "PostgreSQL is not installed and this is not root: install Debian's 'postgresql' package, or set DW_TEST_PG_URL to a server the tests may create databases on." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
