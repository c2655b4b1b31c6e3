#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (idempotent).
# Never runs `playwright install`: the tests drive /usr/bin/chromium, nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
# The sign-in test's OpenID provider (npm oidc-provider, versions locked in tests/oidc).
if command -v npm >/dev/null 2>&1; then
  if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
    (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
  fi
else
  echo "install_browser: npm missing; the sign-in browser test will skip" >&2
fi
if [ -x /usr/bin/chromium ]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install_browser: /usr/bin/chromium missing and not root (no sudo); browser tests will skip" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
/usr/bin/chromium --version
