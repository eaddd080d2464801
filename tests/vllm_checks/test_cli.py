"""``transferlab eval --backend vllm`` and ``drift tokens --backend vllm`` as users run them: a real
``transferlab`` process SIGKILLed mid-run with vLLM's default engine processes, resumed, repeated
with two data-parallel engine processes, all equal to one uninterrupted run; token drift equal to
the Hugging Face backend's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_eval_e2e import stored  # reads a store read-only while another process writes it
from transferlab.cli import main
from transferlab.models import build_tiny_model

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).with_name("transferlab")  # the console script, as a user runs it
RUN_TIMEOUT_S = 300
LIMIT = 24


def eval_args(model, store, data, *extra):
    """Sampled, and cut at a stop string the tiny model writes now and then: completions end at
    every step, so the store fills gradually and the run can be killed in the middle."""
    return [
        "eval",
        "--backend",
        "vllm",
        "--model",
        str(model),
        "--dtype",
        "float32",
        "--benchmarks",
        "gsm8k",
        "--limit",
        str(LIMIT),
        "--samples",
        "8",
        "--temperature",
        "1.0",
        "--top-p",
        "1.0",
        "--max-new-tokens",
        "64",
        "--seed",
        "3",
        "--stop",
        "7",
        "--store",
        str(store),
        "--data-dir",
        str(data),
        "--quiet",
        "--no-score",
        *extra,
    ]


def cli(*args, multiprocessing: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "1" if multiprocessing else "0"}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)


def group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


def test_killed_run_resumes_and_data_parallel_repeats_it(tiny32, shared_data, tmp_path):
    total = LIMIT * 8
    store = tmp_path / "runs.db"
    log = tmp_path / "killed.log"  # a file, not a pipe: the engine processes would hold a pipe open
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "1"}  # vLLM's default: engine processes spawned
    with open(log, "w") as out:
        proc = subprocess.Popen([str(CLI), *eval_args(tiny32, store, shared_data)], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while len(stored(store)) < 16 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed: {log.read_text()[-2000:]}"
    gone = group_gone(proc.pid, 30)
    if not gone:
        os.killpg(proc.pid, signal.SIGKILL)
    assert gone, "vLLM's engine processes outlived the killed run"
    before = stored(store)
    assert 16 <= len(before) < total, len(before)

    done = cli(*eval_args(tiny32, store, shared_data))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{total} completions asked, {len(before)} already stored, {total - len(before)} generated" in done.stderr
    after = stored(store)
    assert len(after) == total and all(after[k] == v for k, v in before.items())

    # One uninterrupted run, on two data-parallel engine processes: the very same samples.
    parallel = tmp_path / "parallel.db"
    dp = cli(*eval_args(tiny32, parallel, shared_data, "--data-parallel", "2"))
    assert dp.returncode == 0, dp.stderr[-3000:]
    assert stored(parallel) == after


def drift_json(out: Path) -> dict:
    [path] = out.glob("tokens__*__gsm8k.json")
    return json.loads(path.read_text())


def test_drift_tokens_on_vllm_matches_the_hf_backend(tiny32, shared_data, tmp_path):
    tuned = build_tiny_model(tmp_path / "tuned-h128", seed=1, hidden_size=128)  # other weights, the same tokenizer
    store = tmp_path / "drift.db"
    common = [
        "drift",
        "tokens",
        "--base",
        str(tiny32),
        "--tuned",
        str(tuned),
        "--benchmarks",
        "gsm8k",
        "--n",
        "6",
        "--max-new-tokens",
        "24",
        "--dtype",
        "float32",
        "--store",
        str(store),
        "--data-dir",
        str(shared_data),
        "--quiet",
    ]
    assert main([*common, "--backend", "vllm", "--out", str(tmp_path / "vllm")]) == 0
    assert main([*common, "--backend", "hf", "--out", str(tmp_path / "hf")]) == 0  # scores the answers vLLM generated
    ours, theirs = drift_json(tmp_path / "vllm"), drift_json(tmp_path / "hf")
    assert ours["settings"]["answers_with_generated_ids"] == 6  # vLLM's generated ids were stored and scored
    assert ours["base"] == theirs["base"] and ours["tuned"] == theirs["tuned"]
    a, b = ours["result"], theirs["result"]
    assert a["answer_tokens"] == b["answer_tokens"] and a["urial_shares"] == b["urial_shares"] and a["rank_shift"] == b["rank_shift"]
    assert a["sampled_kl"] == pytest.approx(b["sampled_kl"], abs=1e-4)
    assert a["exact_kl"] is None and b["exact_kl"] is not None  # vLLM returns no full distributions
