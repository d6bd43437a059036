#!/usr/bin/env bash
# Installs Debian's Prometheus (prometheus and promtool) when either is missing. The dashboard tests check and
# unit-test the alert rules with promtool and start their own throwaway prometheus on a loopback port with a
# temp config and data directory (test/dashboards/prometheus.ts); the packaged service is not used. The
# package's postinst may try to start that service: harmless here (no systemd, or a service nobody queries).
set -euo pipefail
if [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "prometheus/promtool are not installed and this is not root: install Debian's 'prometheus' package (it provides /usr/bin/prometheus and /usr/bin/promtool)." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: the recommended node exporter and friends are not needed to run rule tests.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null || {
  # A postinst that fails to start the service leaves the package half-configured; the binaries are in place.
  [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || exit 1
}
if [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/promtool ]; then
  echo "the prometheus package did not install /usr/bin/prometheus and /usr/bin/promtool" >&2
  exit 1
fi
