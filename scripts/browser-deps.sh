#!/usr/bin/env bash
# The browser the viewer and report tests drive: Debian's chromium (Playwright's Python API is
# pointed at /usr/bin/chromium; no `playwright install`, which would download a browser build).
# Installs it when missing and run as root with apt; otherwise says what to install (the browser
# tests are then skipped with that reason).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (the browser tests of the viewer and the report)..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "warning: chromium missing; the browser tests will be skipped. Install: sudo apt-get install chromium" >&2
fi
