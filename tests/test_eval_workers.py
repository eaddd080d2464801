"""Several ``eval`` processes on one store split the missing completions through leases: two real
processes of a CPU-bound tiny model store every completion exactly once, each generating a share;
a killed worker's claims expire and another worker generates them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from transferlab.store import Store

pytestmark = pytest.mark.slow

TOTAL = 128  # 32 GSM8K items x 4 samples


@pytest.fixture(scope="module")
def cpu_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2, wider and deeper than the default one, so that generating dominates a run."""
    from transferlab.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("workers") / "tiny", seed=0, hidden_size=384, layers=4)


def eval_argv(model: Path, store: Path, data: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "transferlab.cli",
        "eval",
        "--model",
        str(model),
        "--benchmarks",
        "gsm8k",
        "--limit",
        "32",
        "--samples",
        "4",
        "--temperature",
        "0.8",
        "--max-new-tokens",
        "128",
        "--batch-size",
        "8",
        "--claim",
        "8",
        "--store",
        str(store),
        "--data-dir",
        str(data),
        "--quiet",
        "--no-score",
        *extra,
    ]


def start(argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen[str], timeout: float = 600) -> str:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return err


def texts(store: Path) -> dict[str, tuple[str, str | None]]:
    with Store(store, readonly=True) as s:
        return {c.key: (c.text, c.run_id) for c in s.completions()}


@pytest.mark.timeout(1200)
def test_two_processes_share_one_store(cpu_model: Path, shared_data: Path, tmp_path: Path) -> None:
    alone, shared = tmp_path / "alone.db", tmp_path / "shared.db"
    t = time.perf_counter()
    finish(start(eval_argv(cpu_model, alone, shared_data)))
    alone_s = time.perf_counter() - t

    t = time.perf_counter()
    procs = [start(eval_argv(cpu_model, shared, shared_data)) for _ in range(2)]
    errs = [finish(p) for p in procs]
    both_s = time.perf_counter() - t
    print(f"\n{TOTAL} completions: one process alone {alone_s:.1f} s, two processes on one store {both_s:.1f} s (load average {os.getloadavg()[0]:.1f})")

    generated = []
    for err in errs:
        # a worker that starts planning after the other stored some counts those as already stored
        found = re.search(rf"{TOTAL} completions asked, (\d+) already stored, (\d+) generated(?:, (\d+) by other workers)?", err)
        assert found, err
        generated.append(int(found.group(2)))
        assert int(found.group(1)) + generated[-1] + int(found.group(3) or 0) == TOTAL, err
    assert sum(generated) == TOTAL and min(generated) >= TOTAL // 8, generated  # every completion once, each process a share
    stored = texts(shared)
    assert len(stored) == TOTAL
    assert sorted(Counter(run for _, run in stored.values()).values()) == sorted(generated)
    assert {k: text for k, (text, _) in stored.items()} == {k: text for k, (text, _) in texts(alone).items()}  # seeds per sample: the same completions
    with Store(shared, readonly=True) as s:
        assert s.leases() == {}


@pytest.mark.timeout(1200)
def test_a_killed_workers_claims_come_back(cpu_model: Path, shared_data: Path, tmp_path: Path) -> None:
    """A run killed with SIGKILL and started again takes the dead run's claims back at once: its
    process is gone, so its leases (an hour long here) are not waited for; were they, the second run
    would outlast its deadline and fail."""
    store = tmp_path / "s.db"
    first = start(eval_argv(cpu_model, store, shared_data, "--lease-s", "3600"))
    deadline, held = time.time() + 600, {}
    while time.time() < deadline and first.poll() is None:
        if store.exists():
            try:
                with Store(store, readonly=True) as s:
                    held, done = s.leases(), s.count_completions()
            except Exception:  # noqa: BLE001 - the run is still creating the store
                held, done = {}, 0
            if held and done >= 16:
                break
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    before = texts(store)
    with Store(store, readonly=True) as s:
        orphaned = s._tuples("SELECT key FROM leases WHERE expires > ?", (time.time(),))
    assert orphaned, "the killed worker held claims"

    err = finish(start(eval_argv(cpu_model, store, shared_data, "--lease-s", "3600")), timeout=300)
    assert f"{TOTAL} completions asked, {len(before)} already stored, {TOTAL - len(before)} generated" in err, err
    after = texts(store)
    assert len(after) == TOTAL and all(after[k] == v for k, v in before.items())
    assert all(after[k][1] != before.get(k, (None, None))[1] for (k,) in orphaned)  # the dead worker's claims, generated by the second
