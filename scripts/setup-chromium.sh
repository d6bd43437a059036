#!/usr/bin/env bash
# Installs Debian's Chromium when /usr/bin/chromium is missing. The browser tests (test/ui/) and the
# screenshot scripts drive it headless through playwright-core; playwright's own browser downloads are not
# used (only the npm registry and Debian packages are reachable on CI machines).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is not installed and this is not root: install Debian's 'chromium' package (it provides /usr/bin/chromium)." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "the chromium package did not install /usr/bin/chromium" >&2
  exit 1
fi
