#!/usr/bin/env bash
# The one setup step of the test suite (`npm test` runs it first; CI runs `npm test`): installs the Debian
# packages the tests drive for real, in one apt-get run, and only those that are missing, so on a machine
# that has them it costs a few stat calls. Test files never install anything: they fail with a message
# naming this script when a binary is missing.
#   postgresql          the "postgres" test project's throwaway cluster (test/pg/cluster.ts)
#   chromium + fonts    the browser tests and the screenshot scripts (test/browser/chromium.ts)
#   prometheus          promtool rule tests and a real scrape (test/dashboards/prometheus.ts)
#   nats-server         a throwaway JetStream server for the NATS source (test/sources/nats-server.ts)
#   python3-fastapi, -uvicorn, -httpx, -pip, -setuptools, -wheel
#                       the Python client (clients/python): installed offline with Debian's pip and
#                       setuptools into a venv, and a FastAPI app under uvicorn (test/clients/python.test.ts)
set -euo pipefail
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || missing+=(prometheus)
{ [ -x /usr/sbin/nats-server ] || [ -x /usr/bin/nats-server ]; } || missing+=(nats-server)
PY_MODULES='import setuptools, wheel, pip, venv, fastapi, uvicorn, httpx'
PY_PACKAGES=(python3-fastapi python3-uvicorn python3-httpx python3-pip python3-setuptools python3-wheel)
/usr/bin/python3 -c "$PY_MODULES" 2>/dev/null || missing+=("${PY_PACKAGES[@]}")
[ ${#missing[@]} -eq 0 ] && exit 0
if [ -n "${DW_TEST_PG_URL:-}" ] && [ "${missing[*]}" = postgresql ]; then
  exit 0 # the tests use an existing PostgreSQL server
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "the tests need Debian packages that are not installed: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing for the tests: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps prometheus' exporters and chromium's extras out. prometheus' postinst may fail
# to start its service where there is no init system; the binaries are in place, which is all the tests use.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || true
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { echo "postgresql did not install initdb" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "chromium did not install /usr/bin/chromium" >&2; exit 1; }
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || { echo "prometheus did not install prometheus and promtool" >&2; exit 1; }
{ [ -x /usr/sbin/nats-server ] || [ -x /usr/bin/nats-server ]; } || { echo "nats-server did not install nats-server" >&2; exit 1; }
/usr/bin/python3 -c "$PY_MODULES" || { echo "${PY_PACKAGES[*]} did not install the Python modules" >&2; exit 1; }
