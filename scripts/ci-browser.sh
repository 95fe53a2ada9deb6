#!/usr/bin/env bash
# Install a real headless browser for the page tests in tests/visual (Debian's
# chromium and its driver). Idempotent: does nothing when both are present.
# Needs root (or passwordless sudo) and network access to the Debian mirrors.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
echo "installed: $(chromium --version)"
