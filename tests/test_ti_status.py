"""One status, one rule for an undefined TI, and σ for a single pair: real ``transferlab`` processes
on synthetic stores and CSVs (exact accuracies, see tests/synthetic_store.py)."""

from __future__ import annotations

import json
import math
import re

import pytest

from conftest import run_cli
from synthetic_store import fill_store, study_dict
from transferlab.demo.study import ti_record
from transferlab.store import Store
from transferlab.transfer.from_store import store_analysis
from transferlab.transfer.ti import STATUS_UNDEFINED, transfer_index

# Math moves by +5 points on 40 items per benchmark: above the point threshold, but its CI spans 0.
BASE = {"math500": 50, "gsm8k": 50, "gpqa_diamond": 30, "ifeval": 70}
TUNED = {"math500": 55, "gsm8k": 55, "gpqa_diamond": 60, "ifeval": 40}
FORCED = transfer_index(BASE, TUNED, min_math_gain=0.0).ti  # what a ratio would print: about ±245


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    path = tmp_path_factory.mktemp("noisy") / "runs.db"
    fill_store(path, {"base": BASE, "tuned": TUNED}, n_items=40)
    return path


def ok(*args):
    proc = run_cli(*args, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def forced_numbers():
    """Every way a report or a table would write the forced TIs."""
    return {f"{v:+.0f}" for v in FORCED.values()} | {f"{v:.2f}" for v in FORCED.values()} | {f"{v:.1f}" for v in FORCED.values()}


def test_an_undefined_ti_prints_no_number_in_ti_json_or_table(noisy):
    assert FORCED["other"] > 200 and FORCED["non"] < -200
    out = json.loads(ok("ti", "--store", str(noisy), "--base", "base", "--tuned", "tuned", "--json", "--resamples", "300").stdout)
    low, high = out["math_gain_ci"]
    assert out["math_gain"] >= out["min_math_gain"] and low < 0 < high  # the point passes, the interval does not
    assert out["status"] == STATUS_UNDEFINED and "CI of DI_math" in out["reason"] and "contains 0" in out["reason"]
    assert out["ti"] == {"other": None, "non": None} and out["ti_ci"] == {"other": None, "non": None}
    text = ok("ti", "--store", str(noisy), "--base", "base", "--tuned", "tuned", "--resamples", "300").stdout
    assert text.count("status:") == 1 and f"status: {STATUS_UNDEFINED} (the 95% CI of DI_math" in text
    assert re.search(r"^other\s+\S+\s+—$", text, re.M) and re.search(r"^non\s+\S+\s+—$", text, re.M)
    assert not forced_numbers() & set(text.split())


def test_an_undefined_ti_prints_no_number_in_the_report_or_its_figure(noisy, tmp_path):
    ok("report", "--store", str(noisy), "--base", "base", "--tuned", "tuned", "--out", str(tmp_path / "r"), "--resamples", "300")
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| tuned | base |") and "TI undefined" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:5] == ["—", "—"] and cells[5].startswith(STATUS_UNDEFINED) and "contains 0" in cells[5]
    for number in forced_numbers():
        assert number not in md and number not in page
    assert "Not drawn (TI undefined): tuned" in md


def test_the_demo_record_reads_the_same_status(noisy):
    with Store(noisy, readonly=True) as store:
        analysis = store_analysis(store, base="base", tuned="tuned", n_resamples=300)
    record = ti_record(analysis, {}, n_resamples=300, seed=0)
    v2 = record["pairs"]["tuned"]["ti"]["v2"]
    assert v2["status"] == v2["point"]["status"] == STATUS_UNDEFINED
    assert v2["point"]["ti"] == {"other": None, "non": None} and v2["ti_ci"] == {"other": None, "non": None}
    assert "contains 0" in v2["point"]["reason"]


def write_csv(path, rows):
    path.write_text("model,benchmark,score\n" + "".join(f"{m},{b},{v}\n" for m, scores in rows.items() for b, v in scores.items()))
    return path


def test_below_the_threshold_csv_gives_null_and_the_reason(tmp_path):
    # With σ math=16, other=non=1: DI_math = √(0.2/16) = 0.11 < 0.25, so undefined without intervals.
    path = write_csv(tmp_path / "s.csv", {"b": {"math500": 50, "gpqa_diamond": 30, "ifeval": 70}, "t": {"math500": 50.2, "gpqa_diamond": 40, "ifeval": 60}})
    out = json.loads(ok("ti", "--scores", str(path), "--base", "b", "--tuned", "t", "--sigma", "math=16,other=1,non=1", "--json").stdout)
    assert out["ti"] == {"other": None, "non": None} and out["status"] == STATUS_UNDEFINED
    assert out["reason"] == "|DI_math| = 0.112 is below 0.25" and out["math_gain_ci"] is None
    ok("report", "--scores", str(path), "--pairs", "t:b", "--sigma", "math=16,other=1,non=1", "--out", str(tmp_path / "r"))
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| t | b |") and "TI undefined" in line)
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip("|"))]
    assert cells[3:5] == ["—", "—"] and cells[5] == STATUS_UNDEFINED + " (\\|DI_math\\| = 0.112 is below 0.25)"


# --- σ for one pair, and --sigma wherever TI is computed ----------------------------------------


def test_one_pair_v2_has_a_documented_default(tmp_path):
    # One benchmark per group: no within-group spread exists. One σ shared by every group, the
    # spread of the deltas 10, 3, -2 (ddof 1): σ² = (Σd² - (Σd)²/3)/2 = (113 - 121/3)/2 = 109/3.
    path = write_csv(tmp_path / "s.csv", {"b": {"math500": 40, "gpqa_diamond": 30, "ifeval": 50}, "t": {"math500": 50, "gpqa_diamond": 33, "ifeval": 48}})
    out = json.loads(ok("ti", "--scores", str(path), "--base", "b", "--tuned", "t", "--json").stdout)
    assert out["sigma"] == pytest.approx(dict.fromkeys(("math", "other", "non"), math.sqrt(109 / 3)))
    assert out["sigma_source"].startswith("one pair: the spread of its 3 deltas") and out["status"] == "ok"
    assert out["ti"] == pytest.approx({"other": 100 * math.sqrt(0.3), "non": -100 * math.sqrt(0.2)})


def test_one_pair_without_spread_or_with_half_a_sigma_names_the_flag(tmp_path):
    path = write_csv(tmp_path / "s.csv", {"b": {"math500": 40, "gpqa_diamond": 30, "ifeval": 50}, "t": {"math500": 45, "gpqa_diamond": 35, "ifeval": 55}})
    for extra, flag in (((), "--sigma math=S,other=S,non=S"), (("--sigma", "math=12"), "--sigma math=12,other=S,non=S")):
        proc = run_cli("ti", "--scores", str(path), "--base", "b", "--tuned", "t", *extra)
        assert proc.returncode == 2 and proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and flag in lines[0], proc.stderr
    given = json.loads(ok("ti", "--scores", str(path), "--base", "b", "--tuned", "t", "--sigma", "math=12,other=1,non=1", "--json").stdout)
    assert given["sigma_source"] == "given for math, other, non" and given["ti"]["other"] == pytest.approx(100 * math.sqrt(12))


BENCHES = ["math500", "gsm8k", "gpqa_diamond", "ifeval"]
RL = {"math500": 70, "gsm8k": 75, "gpqa_diamond": 40, "ifeval": 60}  # multiples of 1.25: exact on 80 items


@pytest.fixture(scope="module")
def one_pair_study(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "runs.db"
    fill_store(path, {"base": BASE, "rl": RL}, n_items=80, spec=study_dict("one", {"base": None, "rl": "base"}, BENCHES))
    return path


@pytest.mark.parametrize("where", ["study", "pair"])
def test_sigma_is_honoured_by_ti_and_report_from_a_store(one_pair_study, tmp_path, where):
    sigma = {"math": 20.0, "other": 5.0, "non": 2.0}
    flag = ",".join(f"{g}={v:g}" for g, v in sigma.items())
    names = ("base", "rl") if where == "study" else ("base@0123456789abcdef", "rl@0123456789abcdef")  # keys: no study
    expected = transfer_index(BASE, RL, sigma=sigma).ti
    default = transfer_index(BASE, RL).ti
    assert abs(expected["other"] - default["other"]) > 20  # the flag changes the number
    out = json.loads(ok("ti", "--store", str(one_pair_study), "--base", names[0], "--tuned", names[1], "--sigma", flag, "--json", "--resamples", "200").stdout)
    assert out["ti"] == pytest.approx(expected) and out["sigma"] == sigma and out["sigma_source"] == "given for math, other, non"
    report = tmp_path / "r"
    ok("report", "--store", str(one_pair_study), "--base", names[0], "--tuned", names[1], "--sigma", flag, "--out", str(report), "--resamples", "200")
    md = (report / "report.md").read_text(encoding="utf-8")
    assert "v2 σ (points): math=20, other=5, non=2 [given for math, other, non]" in md
    assert f"| {names[1]} | {names[0]} |" in md and f"{expected['other']:+.0f} [" in md


def test_sigma_reaches_the_report_of_a_whole_study(one_pair_study, tmp_path):
    ok("report", "--store", str(one_pair_study), "--sigma", "math=20,other=5,non=2", "--out", str(tmp_path / "r"), "--resamples", "200")
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "math=20, other=5, non=2 [given for math, other, non]" in md
    ok("report", "--store", str(one_pair_study), "--out", str(tmp_path / "d"), "--resamples", "200")
    md = (tmp_path / "d" / "report.md").read_text(encoding="utf-8")
    assert "[one pair: the spread of its 4 deltas over every group, ddof=1" in md  # the study has one tuned model
    assert f"{transfer_index(BASE, RL).ti['other']:+.0f} [" in md
