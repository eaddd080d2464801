#!/usr/bin/env bash
# Build (once) the third-party OpenAI-compatible server the HTTP backend tests run against:
# llama-cpp-python's server in its own virtualenv, .cache/llama-server-venv (git-ignored).
#
#   scripts/llama-server-venv.sh            # prints the venv's python when it is ready
#
# PyPI ships llama-cpp-python as a source archive only (no binary wheel for Linux), so the first
# build compiles llama.cpp (7.3 min wall, 13 CPU-min, measured on 2 idle cores).
#
# Portable, not native: llama.cpp's default (-march=native) compiles for the build machine's own
# CPU, and such a build crashed (signal 11) on its first completion on a Xeon with AVX-512 and AMX.
# We build with GGML_NATIVE=OFF, which gives ggml's x86-64-v3 set (SSE4.2, AVX, AVX2, FMA, F16C,
# BMI2) on a CPU that has AVX2, and a plain x86-64 build on one that does not; every x86-64 machine
# with AVX2 runs it, AVX2-only and AVX-512/AMX alike. The wheel is kept in .cache/llama-wheels
# under a hash of the version and build flags (pip's own wheel cache ignores CMAKE_ARGS, so it
# could hand back a native build), and a rebuild with the same flags takes seconds.
#
# Before the venv is marked ready, the server must serve: a real completion from the SmolLM2 GGUF
# that the tests use ($LLAMA_SMOKE_GGUF, by default found through the project's .venv). Exit
# status: 0 ready; 3 built but cannot serve (the tests fail at once with this output); anything
# else: the build itself failed (no compiler, no registry: the tests are skipped with the reason).
# A marker file written last makes an interrupted build start over; a lock keeps two test sessions
# from building at once.
set -euo pipefail

VERSION="0.3.36"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LLAMA_SERVER_VENV:-$ROOT/.cache/llama-server-venv}"
PYTHON="${PYTHON:-python3}"

# Lean build: no multimodal (llava/mtmd) library, tests, examples or tools; CPU only; portable.
FLAGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DGGML_OPENMP=OFF"
if [ "$(uname -m)" = "x86_64" ] && ! grep -qw avx2 /proc/cpuinfo; then
    FLAGS="$FLAGS -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF"
fi
FLAGS="${CMAKE_ARGS:-$FLAGS}"
BUILD_ID="$(printf '%s %s %s' "$VERSION" "$FLAGS" "$(uname -m)" | sha256sum | cut -c1-12)"
MARKER="$VENV/.built-llama-cpp-python-$VERSION-$BUILD_ID"
WHEELS="$(dirname "$VENV")/llama-wheels/$BUILD_ID"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$MARKER" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
    if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "compiling llama-cpp-python $VERSION with: $FLAGS" >&2
        rm -rf "$WHEELS.partial"
        CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
            "${PIP[@]}" wheel --no-cache-dir --no-deps -w "$WHEELS.partial" "llama-cpp-python==$VERSION" >&2
        mv "$WHEELS.partial" "$WHEELS"
    fi
    WHEEL="$(ls "$WHEELS"/llama_cpp_python-*.whl | head -n 1)"
    "${PIP[@]}" install "$WHEEL[server]" \
        numpy==2.4.6 fastapi==0.165.0 uvicorn==0.54.0 sse-starlette==3.7.0 starlette-context==0.3.6 \
        pydantic==2.14.4 pydantic-settings==2.16.3 >&2
    "$VENV/bin/python" -c "import llama_cpp.server.app" >&2
    GGUF="${LLAMA_SMOKE_GGUF:-}"
    if [ -z "$GGUF" ] && [ -x "$ROOT/.venv/bin/python" ]; then
        GGUF="$("$ROOT/.venv/bin/python" -c 'from transferlab.models import smollm2_gguf; print(smollm2_gguf())' 2>/dev/null || true)"
    fi
    if [ -n "$GGUF" ]; then
        set +e
        out="$("$VENV/bin/python" - "$GGUF" 2>&1 <<'PY'
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
text = llm("The capital of France is", max_tokens=4, temperature=0.0)["choices"][0]["text"]
print(f"smoke completion: {text!r}")
PY
)"
        status=$?
        set -e
        if [ "$status" -ne 0 ]; then
            echo "llama-cpp-python $VERSION was built ($FLAGS) but cannot serve a completion on this CPU: exit status $status" >&2
            echo "$out" | tail -n 20 >&2
            exit 3
        fi
        echo "$out" >&2
    else
        echo "warning: no GGUF to smoke-test with (set LLAMA_SMOKE_GGUF); the venv is not checked to serve" >&2
    fi
    touch "$MARKER"
fi
echo "$VENV/bin/python"
