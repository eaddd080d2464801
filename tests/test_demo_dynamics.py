"""``transferlab demo --dynamics`` on the quick budget: the plain demo runs none of it; the same folder
run again with ``--dynamics`` reuses the seven phases and adds trainings over two more seeds, every
checkpoint evaluated (the last one is the finished model, not evaluated again), drift of every
checkpoint, and the report's trajectory, drift-against-transfer and seeds sections."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

PHASES = ("data", "sft", "grpo", "eval", "ti", "drift", "report")
DYNAMICS = ("seeds", "trajectory", "drift-steps", "dynamics")


def demo(out, *extra):
    cmd = [sys.executable, "-m", "transferlab.commands.demo", "--out", str(out), "--quick", "--seed", "0", "--quiet", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "times.json").read_text())


def study_keys(store):
    db = sqlite3.connect(store)
    try:
        return {(s, n): k for s, n, k in db.execute("SELECT study, name, model_key FROM study_models")}
    finally:
        db.close()


@pytest.mark.timeout(1800)
def test_dynamics_adds_its_phases_to_a_plain_demo_folder(tmp_path):
    out = tmp_path / "demo"
    plain = demo(out)
    assert set(plain["seconds"]) == {*PHASES, "total"}  # the default demo runs no dynamics
    assert not (out / "dynamics").exists() and not (out / "dynamics.json").exists()

    times = demo(out, "--dynamics")
    assert times["reused"] == sorted(PHASES) and set(DYNAMICS) <= set(times["seconds"])
    for method in ("sft", "grpo"):
        for seed in (1, 2):
            assert (out / "models" / f"{method}-seed{seed}" / "model.safetensors").is_file()

    folder = out / "dynamics"
    trajectory = json.loads((folder / "trajectory.json").read_text())
    runs = trajectory["runs"]
    assert [p["step"] for p in runs["sft"]["points"]] == [0, 3, 6] and [p["step"] for p in runs["grpo"]["points"]] == [0, 2, 4]
    assert (runs["sft"]["training"], runs["grpo"]["training"]) == ("SFT", "RL")
    keys = study_keys(out / "demo.db")
    for method, last in (("sft", 6), ("grpo", 4)):  # the last checkpoint is the finished model: one key, one evaluation
        assert keys[("world-demo-trajectory", f"{method}-step{last}")] == keys[("world-demo", method)]
        assert keys[("world-demo-seeds", f"{method}-seed0")] == keys[("world-demo", method)]

    seeds = json.loads((folder / "seeds.json").read_text())
    for method in ("sft", "grpo"):
        group = seeds["groups"][method]
        assert group["seeds"] == [f"{method}-seed{k}" for k in (0, 1, 2)] and group["seed_numbers"] == [0, 1, 2]
        for g in ("math", "other", "non"):
            spread = group["group_delta"][g]
            assert len(spread["per_seed"]) == 3 and spread["mean"] == pytest.approx(sum(spread["per_seed"]) / 3)
            assert spread["hierarchical_ci"][0] <= spread["mean"] <= spread["hierarchical_ci"][1]

    drift = json.loads((folder / "drift_transfer.json").read_text())
    assert sorted((p["run"], p["step"]) for p in drift["points"]) == [("grpo", 2), ("grpo", 4), ("sft", 3), ("sft", 6)]
    assert all(p["exact_kl"] >= 0 and p["pca_shift"] >= 0 for p in drift["points"])

    page = (out / "report" / "index.html").read_text()
    for title in ("Transfer during training", "Drift against transfer", "Seeds: the spread between trainings", "The demo run"):
        assert title in page, title
    for name in ("trajectory", "drift_transfer", "seeds"):
        assert (out / "report" / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = demo(out, "--dynamics")  # everything reused
    assert again["reused"] == sorted((*PHASES, *DYNAMICS))
