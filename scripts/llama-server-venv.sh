#!/usr/bin/env bash
# Build (once) the third-party OpenAI-compatible server the HTTP backend tests run against:
# llama-cpp-python's server in its own virtualenv, .cache/llama-server-venv (git-ignored).
#
#   scripts/llama-server-venv.sh            # prints the venv's python when it is ready
#
# PyPI ships llama-cpp-python as a source archive only (no binary wheel for Linux), so the first
# build compiles llama.cpp (7.3 min wall, 13 CPU-min, measured on 2 idle cores); pip keeps the wheel in its
# cache, so a rebuild on the same machine takes seconds. A marker file written last makes an
# interrupted build start over; a lock keeps two test sessions from building at once.
set -euo pipefail

VERSION="0.3.36"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LLAMA_SERVER_VENV:-$ROOT/.cache/llama-server-venv}"
MARKER="$VENV/.built-llama-cpp-python-$VERSION"
PYTHON="${PYTHON:-python3}"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$MARKER" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # Lean build: no multimodal (llava/mtmd) library, tests, examples or tools; CPU only.
    CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DGGML_OPENMP=OFF}" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q "llama-cpp-python[server]==$VERSION" \
            numpy==2.4.6 fastapi==0.165.0 uvicorn==0.54.0 sse-starlette==3.7.0 starlette-context==0.3.6 \
            pydantic==2.14.4 pydantic-settings==2.16.3 >&2
    "$VENV/bin/python" -c "import llama_cpp.server.app" >&2
    touch "$MARKER"
fi
echo "$VENV/bin/python"
