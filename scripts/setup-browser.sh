#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the dashboard's browser test
# (crates/archer-cli/tests/browser.rs). Installs them once; a second run only checks.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
echo "setup-browser: installing chromium and chromium-driver (Debian packages)"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
chromium --version
chromedriver --version
