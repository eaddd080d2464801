#!/usr/bin/env bash
# System packages the project needs for the code sandbox: bubblewrap (namespaces), libseccomp2 (the
# seccomp filter, loaded by the pyseccomp binding), util-linux (setpriv, prlimit). Installs what is
# missing when run as root with apt; otherwise says what to install.
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
{ command -v setpriv && command -v prlimit; } >/dev/null 2>&1 || missing+=(util-linux)
if ! { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null; } | grep -q 'libseccomp\.so\.2'; then
  missing+=(libseccomp2)
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (the code-grading sandbox)..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: ${missing[*]} missing; code grading will refuse to run. Install: sudo apt-get install ${missing[*]}" >&2
fi
