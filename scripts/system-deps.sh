#!/usr/bin/env bash
# System packages the project needs: bubblewrap (the code sandbox). Installs them when run as root.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing bubblewrap (the code-grading sandbox)..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
else
  echo "warning: bubblewrap (bwrap) is missing; code grading will refuse to run. Install it: sudo apt-get install bubblewrap" >&2
fi
