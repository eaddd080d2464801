"""The ``ti`` command over a small CSV, driven through an argparse harness built with ``register``."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from transferlab.commands import ti as ti_command
from transferlab.errors import ConfigError, DataError

# Same numbers as tests/test_ti.py: base/tuned per benchmark, hand-computed there.
ROWS = [
    ("base", "math500", 60),
    ("base", "aime24", 20),
    ("base", "gpqa_diamond", 30),
    ("base", "headqa", 70),
    ("base", "ifeval", 80),
    ("base", "coqa", 60),
    ("rl", "math500", 76),
    ("rl", "aime24", 56),
    ("rl", "gpqa_diamond", 34),
    ("rl", "headqa", 69),
    ("rl", "ifeval", 71),
    ("rl", "coqa", 61),
    ("sft", "math500", 66),
    ("sft", "aime24", 22),
    ("sft", "gpqa_diamond", 31),
    ("sft", "headqa", 71),
    ("sft", "ifeval", 80),
    ("sft", "coqa", 62),
]


def write_csv(tmp_path, rows=ROWS, header="model,benchmark,score"):
    path = tmp_path / "scores.csv"
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def run(*argv):
    parser = argparse.ArgumentParser(prog="transferlab")
    ti_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ti", *argv])
    return args.func(args)


def run_json(capsys, *argv):
    assert run(*argv, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_json_v2_with_explicit_sigma(tmp_path, capsys):
    path = write_csv(tmp_path)
    out = run_json(capsys, "--scores", str(path), "--base", "base", "--tuned", "rl", "--sigma", "math=4,other=1,non=1")
    # DI_math = 8/3, DI_other = 1.1, DI_non = -1/3 -> TI 41.25 and -12.5 (see test_ti.py)
    assert out["math_gain"] == pytest.approx(8 / 3, abs=1e-9)
    assert out["ti"]["other"] == pytest.approx(41.25, abs=1e-9)
    assert out["ti"]["non"] == pytest.approx(-12.5, abs=1e-9)
    assert out["status"] == "ok" and out["sigma_source"] == "given for math, other, non"
    assert {b["benchmark"]: b["delta"] for b in out["benchmarks"]}["aime24"] == pytest.approx(36)


def test_json_v2_sigma_from_pair_and_from_population(tmp_path, capsys):
    path = write_csv(tmp_path)
    one = run_json(capsys, "--scores", str(path), "--base", "base", "--tuned", "rl")
    # One pair: one σ shared by every group (see test_ti.py), which cancels out of TI.
    assert one["sigma"] == pytest.approx(dict.fromkeys(("math", "other", "non"), math.sqrt(7697 / 30)), abs=1e-9)
    assert one["ti"]["non"] == pytest.approx(-6.25, abs=1e-9)
    # Population rl + sft: math deltas {16, 36, 6, 2} -> σ = √(692/3) with ddof 1
    both = run_json(capsys, "--scores", str(path), "--base", "base", "--tuned", "rl", "--pairs", "sft:base")
    assert both["sigma"]["math"] == pytest.approx(math.sqrt(692 / 3), abs=1e-9)
    assert "2 pair(s)" in both["sigma_source"]
    mixed = run_json(capsys, "--scores", str(path), "--base", "base", "--tuned", "rl", "--pairs", "sft:base", "--sigma", "non=2", "--ddof", "0")
    assert mixed["sigma"]["non"] == 2.0
    assert mixed["sigma"]["math"] == pytest.approx(math.sqrt(173), abs=1e-9)


def test_json_v1(tmp_path, capsys):
    out = run_json(capsys, "--scores", str(write_csv(tmp_path)), "--base", "base", "--tuned", "rl", "--version", "v1")
    # ΔR_math = (16/60 + 36/20)/2 = (0.26667 + 1.8)/2 = 1.0333…; ΔR_other = (4/30 - 1/70)/2
    d_math = (16 / 60 + 36 / 20) / 2
    d_other = (4 / 30 - 1 / 70) / 2
    assert out["math_gain"] == pytest.approx(d_math, abs=1e-9)
    assert out["ti"]["other"] == pytest.approx(100 * d_other / d_math, abs=1e-9)
    assert out["sigma"] is None and out["gain_name"] == "ΔR"


def test_table_output(tmp_path, capsys):
    assert run("--scores", str(write_csv(tmp_path)), "--base", "base", "--tuned", "rl") == 0
    text = capsys.readouterr().out
    assert "TI v2: rl vs base base" in text and "status: ok" in text
    assert "aime24" in text and "20.62" in text


def test_group_column_extends_known_names(tmp_path, capsys):
    rows = [r + ("",) for r in ROWS] + [("base", "mybench", 50, "non"), ("rl", "mybench", 40, "non")]
    path = write_csv(tmp_path, rows, header="model,benchmark,score,group")
    out = run_json(capsys, "--scores", str(path), "--base", "base", "--tuned", "rl", "--sigma", "math=4,other=1,non=1")
    rows = {b["benchmark"]: b for b in out["benchmarks"]}
    assert rows["mybench"]["group"] == "non"
    # non: ifeval s=-3 (w 20), coqa s=1 (w 40), mybench Δ=-10 -> s=-√10 (w 50); Σw = 110
    di_non = (-3 * 20 + 1 * 40 - math.sqrt(10) * 50) / 110
    assert out["group_gain"]["non"] == pytest.approx(di_non, abs=1e-9)
    assert out["ti"]["non"] == pytest.approx(100 * di_non / (8 / 3), abs=1e-9)


def test_unknown_benchmark_is_one_line_error(tmp_path):
    path = write_csv(tmp_path, ROWS + [("rl", "mystery", 10)])
    with pytest.raises(DataError) as err:
        run("--scores", str(path), "--base", "base", "--tuned", "rl")
    message = str(err.value)
    assert "'mystery'" in message and "math500" in message and "\n" not in message


def test_missing_model_names_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="tuned model 'grpo' is not in the scores.*base, rl, sft"):
        run("--scores", str(write_csv(tmp_path)), "--base", "base", "--tuned", "grpo")
    with pytest.raises(DataError, match="model 'nope' has no scores"):
        run("--scores", str(write_csv(tmp_path)), "--base", "base", "--tuned", "rl", "--pairs", "nope:base")


def test_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="missing column"):
        run("--scores", str(write_csv(tmp_path, header="model,bench,score")), "--base", "b", "--tuned", "t")
    with pytest.raises(DataError, match="outside 0-100"):
        run("--scores", str(write_csv(tmp_path, ROWS + [("x", "coqa", 120)])), "--base", "base", "--tuned", "rl")
    with pytest.raises(DataError, match="scores file .*nope.csv not found"):
        run("--scores", str(tmp_path / "nope.csv"), "--base", "base", "--tuned", "rl")
    with pytest.raises(ConfigError, match="bad --sigma"):
        run("--scores", str(write_csv(tmp_path)), "--base", "base", "--tuned", "rl", "--sigma", "math=-1")
    with pytest.raises(ConfigError, match="v2 only"):
        run("--scores", str(write_csv(tmp_path)), "--base", "base", "--tuned", "rl", "--version", "v1", "--sigma", "math=1")


def test_benchmark_only_one_model_has_is_left_out_with_a_note(tmp_path, capsys):
    path = write_csv(tmp_path, ROWS + [("rl", "gsm8k", 90)])
    out = run_json(capsys, "--scores", str(path), "--base", "base", "--tuned", "rl", "--sigma", "math=4,other=1,non=1")
    assert out["ti"]["other"] == pytest.approx(41.25, abs=1e-9)
    assert any("gsm8k" in n for n in out["notes"])
