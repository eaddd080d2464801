"""``ti`` and ``report`` count the verdicts ``results`` counts (``--paper-scoring``, ``--math-grader``),
and ``report`` reads any store: a pair named by ``--base``/``--tuned``, or one model's results.
Real ``transferlab`` processes on synthetic stores (tests/synthetic_store.py)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from synthetic_store import fill_store
from transferlab.transfer.ti import transfer_index

# Completions scored twice: by the default scorers and by the paper's (GPQA) or Qwen2.5-Math's (math).
STORED = {
    "base": {
        "math500": {"math": 40, "math_qwen25": 35},
        "gsm8k": {"math": 50, "math_qwen25": 45},
        "gpqa_diamond": {"choice": 30, "choice_paper": 40},
        "ifeval": 60,
    },
    "tuned": {
        "math500": {"math": 70, "math_qwen25": 50},
        "gsm8k": {"math": 80, "math_qwen25": 55},
        "gpqa_diamond": {"choice": 45, "choice_paper": 35},
        "ifeval": 50,
    },
}
CHOICES = {
    "default": ((), {"math": "math", "choice": "choice"}),
    "paper": (("--paper-scoring",), {"math": "math", "choice": "choice_paper"}),
    "qwen": (("--math-grader", "qwen25-math"), {"math": "math_qwen25", "choice": "choice"}),
}


def scores_of(model, scorers):
    out = {}
    for bench, rate in STORED[model].items():
        out[bench] = rate if not isinstance(rate, dict) else rate[scorers["choice" if bench == "gpqa_diamond" else "math"]]
    return out


@pytest.fixture(scope="module")
def twice_scored(tmp_path_factory):
    path = tmp_path_factory.mktemp("scorers") / "runs.db"
    fill_store(path, STORED, n_items=40)
    return path


def ok(*args):
    proc = run_cli(*args, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("choice", list(CHOICES))
def test_ti_and_report_count_what_results_counts(twice_scored, tmp_path, choice):
    flags, scorers = CHOICES[choice]
    results = {
        (r["model"].split("@")[0], r["benchmark"]): r["accuracy"] for r in json.loads(ok("results", "--store", str(twice_scored), "--json", *flags).stdout)
    }
    base, tuned = scores_of("base", scorers), scores_of("tuned", scorers)
    assert results == pytest.approx({**{("base", b): v for b, v in base.items()}, **{("tuned", b): v for b, v in tuned.items()}})
    out = json.loads(ok("ti", "--store", str(twice_scored), "--base", "base", "--tuned", "tuned", "--json", "--resamples", "200", *flags).stdout)
    assert {r["benchmark"]: r["base"] for r in out["benchmarks"]} == pytest.approx(base)
    assert {r["benchmark"]: r["tuned"] for r in out["benchmarks"]} == pytest.approx(tuned)
    assert out["math_gain"] == pytest.approx(transfer_index(base, tuned).math_gain)
    ok("report", "--store", str(twice_scored), "--base", "base", "--tuned", "tuned", "--out", str(tmp_path / "r"), "--resamples", "200", *flags)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| tuned | other |"))
    assert row.split("|")[5].strip().startswith(f"{tuned['gpqa_diamond']:.1f} [")  # math500, gsm8k, gpqa_diamond, ifeval


def test_scorer_choice_needs_a_store(tmp_path):
    (tmp_path / "s.csv").write_text("model,benchmark,score\nb,math500,40\nt,math500,50\n")
    for command in (("ti", "--base", "b", "--tuned", "t"), ("report", "--pairs", "t:b", "--out", str(tmp_path / "r"))):
        proc = run_cli(*command, "--scores", str(tmp_path / "s.csv"), "--paper-scoring")
        assert proc.returncode == 2 and proc.stderr.strip() == (
            "transferlab: error: --paper-scoring and --math-grader choose verdicts in a store; a CSV of scores holds none; use them with --store"
        )
    assert not (tmp_path / "r").exists()


def test_report_from_a_store_with_one_model_is_results_only(tmp_path):
    path = tmp_path / "one.db"
    fill_store(path, {"solo": {"math500": 40, "ifeval": 60}}, n_items=40)
    ok("report", "--store", str(path), "--out", str(tmp_path / "r"), "--resamples", "200")
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "one model in the store (solo@0123456789abcdef): results only" in md
    assert "| solo | base | 40.0 [" in md and "Transferability Index" not in md and "Change against the base" not in md
    assert sorted(p.name for p in (tmp_path / "r" / "figures").iterdir()) == ["generation.png"]


def test_report_from_a_store_without_a_study(twice_scored, tmp_path):
    proc = run_cli("report", "--store", str(twice_scored), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "holds 2 models and no study; name the pair with --base BASE --tuned TUNED" in proc.stderr
    assert not (tmp_path / "r").exists()
    ok("report", "--store", str(twice_scored), "--base", "base", "--tuned", "tuned", "--out", str(tmp_path / "r"), "--resamples", "200")
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    expected = transfer_index(scores_of("base", CHOICES["default"][1]), scores_of("tuned", CHOICES["default"][1]))
    assert f"| tuned | base | other | {expected.ti['other']:+.0f} [" in md
    assert "ti_scatter.png" in md and "transferlab report: tuned against base" in md
    proc = run_cli("report", "--store", str(twice_scored), "--tuned", "tuned", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and "--base and --tuned go together" in proc.stderr
