"""``transferlab demo``: the whole study in the mini-world.

The slow test runs ``demo --quick`` twice with the same seed (two processes side by side, one
torch thread each), checks that every phase left its outputs, that the two runs gave identical
scores, and that a rerun reuses every finished phase.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from transferlab.transfer.stats import group_accuracy

PHASES = ("data", "sft", "grpo", "eval", "ti", "drift", "report")


def demo_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "transferlab.commands.demo", "--out", str(out), "--quick", "--seed", "0", "--quiet", *extra]


def start(out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(demo_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def item_scores(store: Path) -> list[tuple[str, str, str, float]]:
    """(model name, benchmark, item, score) of every scored completion, in a stable order."""
    db = sqlite3.connect(store)
    try:
        rows = db.execute(
            "SELECT sm.name, c.benchmark, c.item_id, s.score FROM completions c JOIN scores s ON s.completion_key = c.key "
            "JOIN study_models sm ON sm.model_key = c.model_key ORDER BY 1, 2, 3"
        ).fetchall()
    finally:
        db.close()
    return rows


def check_outputs(out: Path) -> None:
    """Every phase produced what it promises."""
    from transferlab.world import FAMILIES

    rows = [json.loads(line) for line in (out / "data" / "sft.jsonl").read_text().splitlines()]
    assert rows and all(r["completion"][0]["role"] == "assistant" and r["meta"]["family"] for r in rows)
    for name in ("sft", "grpo"):
        assert (out / "models" / name / "config.json").is_file() and (out / "models" / name / "model.safetensors").is_file()
    scores = item_scores(out / "demo.db")
    cells = {(m, b) for m, b, _, _ in scores}
    assert cells == {(m, b) for m in ("base", "sft", "grpo") for b in FAMILIES}
    ti = json.loads((out / "ti.json").read_text())
    assert set(ti["pairs"]) == {"sft", "grpo"} and set(ti["accuracy"]) == {"base", "sft", "grpo"}
    for pair in ti["pairs"].values():
        assert set(pair["ti"]) == {"v1", "v2"} and set(pair["group_delta"]) == {"math", "other", "non"}
        assert all(d["ci"] is not None for d in pair["group_delta"].values())
    for kind in ("latent", "tokens"):
        for pair in ("sft", "grpo"):
            found = {json.loads(p.read_text())["benchmark"] for p in (out / "drift").glob(f"{kind}__{pair}-vs-*__*.json")}
            assert found == set(FAMILIES), (kind, pair, found)
    page = (out / "report" / "index.html").read_text()
    assert "Transferability Index" in page and "latent and token drift" in page and "The demo run" in page
    assert page.count("data:image/png;base64,") >= 3
    times = json.loads((out / "times.json").read_text())
    assert set(PHASES) <= set(times["seconds"]) and times["reused"] == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_demo_runs_every_phase_deterministically_and_resumes(tmp_path):
    runs = [start(tmp_path / "a"), start(tmp_path / "b")]
    logs = [p.communicate(timeout=600)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    check_outputs(tmp_path / "a")
    assert item_scores(tmp_path / "a" / "demo.db") == item_scores(tmp_path / "b" / "demo.db")
    ti_a, ti_b = (json.loads((tmp_path / x / "ti.json").read_text()) for x in "ab")
    assert ti_a["accuracy"] == ti_b["accuracy"] and ti_a["pairs"] == ti_b["pairs"]

    again = subprocess.run(demo_cmd(tmp_path / "a"), capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((tmp_path / "a" / "times.json").read_text())["reused"] == sorted(PHASES)
    assert item_scores(tmp_path / "a" / "demo.db") == item_scores(tmp_path / "b" / "demo.db")  # nothing generated twice

    other_seed = subprocess.run(demo_cmd(tmp_path / "a", "--seed", "1"), capture_output=True, text=True, timeout=300)
    assert other_seed.returncode == 2 and "other settings" in other_seed.stderr


def test_group_accuracy_is_the_mean_of_benchmark_accuracies_with_a_bootstrap_interval():
    cells = {"a": {"1": [1.0], "2": [0.0]}, "b": {"1": [1.0], "2": [1.0], "3": [1.0], "4": [0.0]}}
    value, low, high = group_accuracy(cells, n_resamples=2000, seed=0)
    assert value == pytest.approx(100 * (0.5 + 0.75) / 2)
    assert 0 <= low < value < high <= 100
    same = {"a": {"1": [1.0], "2": [1.0]}}
    assert group_accuracy(same, n_resamples=50, seed=0) == (100.0, 100.0, 100.0)


def test_demo_command_registers_its_options():
    from transferlab.commands.demo import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo", "--quick", "--seed", "3", "--out", "x"])
    assert (args.quick, args.seed, args.out, args.func.__name__) == (True, 3, "x", "cmd_demo")
    assert parser.parse_args(["demo"]).out == "runs/demo" and parser.parse_args(["demo", "--base", "b"]).base == "b"


def test_a_base_folder_that_is_no_world_model_is_a_one_line_error(tmp_path):
    from transferlab.demo import run_demo
    from transferlab.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a world base model folder"):
        run_demo(tmp_path / "out", base=tmp_path, show_progress=False)
    assert not (tmp_path / "out").exists()  # nothing written


def test_presets_are_tiny_plus_the_documented_overrides():
    from transferlab.demo import FULL, QUICK, presets
    from transferlab.train.presets import TINY_GRPO, TINY_SFT

    for budget in (FULL, QUICK):
        sft, grpo = presets(budget, seed=5)
        assert sft.seed == grpo.seed == 5
        changed_sft = {k for k in vars(TINY_SFT) if getattr(sft, k) != getattr(TINY_SFT, k)}
        changed_grpo = {k for k in vars(TINY_GRPO) if getattr(grpo, k) != getattr(TINY_GRPO, k)}
        assert changed_sft <= {k for k, _ in budget.sft} | {"seed"}
        assert changed_grpo <= {k for k, _ in budget.grpo} | {"seed"}


def test_grpo_reward_grades_world_answers_as_their_benchmark_does():
    """The GRPO reward on each math family's prompts agrees with the benchmark's own scorer.

    A multi-part reference (a list) once reached the reward as ``"['9', '14']"``, which no answer
    matched: every world_multipart rollout was rewarded 0.
    """
    from transferlab.benchmarks import get_benchmark
    from transferlab.demo.data import grpo_prompts, math_families, train_split
    from transferlab.pipeline.score import LazyScoringContext
    from transferlab.scoring.thinking import split_thinking
    from transferlab.train.rewards import MathReward
    from transferlab.world import teacher_trace

    n = 6
    prompts = grpo_prompts(math_families(), n, seed=0)
    reward = MathReward("think", workers=1)
    try:
        with LazyScoringContext(workers=1) as context:
            for family in math_families():
                items = train_split(family, n, seed=0)
                mine = [p for p in prompts if p.source == family]
                assert [p.id for p in mine] == [f"{family}:{i.id}" for i in items]
                right = [split_thinking(str(teacher_trace(i)), "think").answer for i in items]
                wrong = ["\\boxed{" + ", ".join(["1000"] * (len(i.reference) if isinstance(i.reference, list) else 1)) + "}" for i in items]
                for answers in (right, wrong):
                    expected = [v.score for v in get_benchmark(family).score(items, answers, context)]
                    assert reward.grade(answers, [p.answer for p in mine], [p.style for p in mine]) == expected, family
                assert set(reward.grade(right, [p.answer for p in mine])) == {1.0}, family
    finally:
        reward.close()
