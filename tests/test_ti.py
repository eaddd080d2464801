"""Hand-computed Transferability Index cases (PAPER.md section 2); arithmetic in the comments."""

from __future__ import annotations

import math

import pytest

from transferlab.errors import ConfigError, DataError
from transferlab.transfer.sigma import population_deltas, population_sigma, sigma_from_deltas
from transferlab.transfer.ti import STATUS_MATH_FELL, STATUS_OK, STATUS_UNDEFINED, transfer_index

# Two benchmarks per group, scores in percent.
BASE = {"math500": 60.0, "aime24": 20.0, "gpqa_diamond": 30.0, "headqa": 70.0, "ifeval": 80.0, "coqa": 60.0}
TUNED = {"math500": 76.0, "aime24": 56.0, "gpqa_diamond": 34.0, "headqa": 69.0, "ifeval": 71.0, "coqa": 61.0}
SIGMA = {"math": 4.0, "other": 1.0, "non": 1.0}
TOL = 1e-9


def by_name(result):
    return {b.benchmark: b for b in result.benchmarks}


def test_v2_explicit_sigma_hand_computed():
    # math:  math500 Δ=16, δ=16/4=4, s=2;  aime24 Δ=36, δ=9, s=3
    #        w = 100-60=40, 100-20=80 -> ŵ = 1/3, 2/3;  DI_math = 2/3 + 2 = 8/3
    # other: gpqa Δ=4, δ=4, s=2;  headqa Δ=-1, δ=-1, s=-1
    #        w = 70, 30 -> ŵ = 0.7, 0.3;  DI_other = 1.4 - 0.3 = 1.1
    # non:   ifeval Δ=-9, δ=-9, s=-3;  coqa Δ=1, δ=1, s=1
    #        w = 20, 40 -> ŵ = 1/3, 2/3;  DI_non = -1 + 2/3 = -1/3
    # TI_other = 100·1.1/(8/3) = 41.25;  TI_non = 100·(-1/3)/(8/3) = -12.5 (forgetting)
    r = transfer_index(BASE, TUNED, sigma=SIGMA)
    rows = by_name(r)
    assert rows["math500"].delta == pytest.approx(16, abs=TOL)
    assert rows["math500"].normalized_delta == pytest.approx(4, abs=TOL)
    assert rows["math500"].signed_root == pytest.approx(2, abs=TOL)
    assert rows["math500"].weight == pytest.approx(1 / 3, abs=TOL)
    assert rows["aime24"].signed_root == pytest.approx(3, abs=TOL)
    assert rows["aime24"].weight == pytest.approx(2 / 3, abs=TOL)
    assert rows["headqa"].normalized_delta == pytest.approx(-1, abs=TOL)
    assert rows["headqa"].signed_root == pytest.approx(-1, abs=TOL)
    assert rows["headqa"].weight == pytest.approx(0.3, abs=TOL)
    assert rows["ifeval"].signed_root == pytest.approx(-3, abs=TOL)
    assert r.math_gain == pytest.approx(8 / 3, abs=TOL)
    assert r.group_gain["other"] == pytest.approx(1.1, abs=TOL)
    assert r.group_gain["non"] == pytest.approx(-1 / 3, abs=TOL)
    assert r.ti["other"] == pytest.approx(41.25, abs=TOL)
    assert r.ti["non"] == pytest.approx(-12.5, abs=TOL)
    assert r.ti["non"] < 0
    assert r.status == STATUS_OK
    assert [b.group for b in r.benchmarks] == ["math", "math", "other", "other", "non", "non"]


def test_v2_one_pair_shares_one_sigma_that_cancels_out_of_ti():
    # One pair, no σ given: one σ for every group, the spread of all six deltas (ddof=1):
    #   deltas 16, 36, 4, -1, -9, 1: Σ = 47, Σ² = 1651, SS = 1651 - 47²/6 = 7697/6, σ² = 7697/30
    # Equal σ cancel out of TI: TI_g = 100 · (Σ ŵ sign(Δ)√|Δ|)_g / (same)_math; the raw sums are
    #   math 1/3·4 + 2/3·6 = 16/3, other 0.7·2 - 0.3·1 = 1.1, non -1/3·3 + 2/3·1 = -1/3
    #   TI_other = 100 · 1.1 / (16/3) = 20.625; TI_non = 100 · (-1/3) / (16/3) = -6.25
    sigma = math.sqrt(7697 / 30)
    r = transfer_index(BASE, TUNED)
    assert r.sigma == pytest.approx({"math": sigma, "other": sigma, "non": sigma}, abs=TOL)
    assert r.math_gain == pytest.approx((16 / 3) / sigma**0.5, abs=TOL)
    assert r.group_gain["other"] == pytest.approx(1.1 / sigma**0.5, abs=TOL)
    assert r.ti["other"] == pytest.approx(20.625, abs=TOL)
    assert r.ti["non"] == pytest.approx(-6.25, abs=TOL)
    assert "one pair" in r.sigma_source and "ddof=1" in r.sigma_source
    # Any equal σ gives the same TI; the paper's per-group σ (SIGMA: math 4, other and non 1) does not.
    same = transfer_index(BASE, TUNED, sigma={"math": 7.0, "other": 7.0, "non": 7.0})
    assert same.ti == pytest.approx(r.ti, abs=TOL)
    assert r.ti["other"] != pytest.approx(transfer_index(BASE, TUNED, sigma=SIGMA).ti["other"])


def test_v2_one_pair_with_one_benchmark_per_group_and_equal_deltas():
    # The within-pair spread of a group with one benchmark does not exist; the shared σ does.
    base = {"math500": 40.0, "gpqa_diamond": 30.0, "ifeval": 50.0}
    tuned = {"math500": 50.0, "gpqa_diamond": 33.0, "ifeval": 48.0}
    r = transfer_index(base, tuned)  # deltas 10, 3, -2; s = √10, √3, -√2 (one benchmark: ŵ = 1)
    assert r.ti["other"] == pytest.approx(100 * math.sqrt(3 / 10), abs=TOL)
    assert r.ti["non"] == pytest.approx(-100 * math.sqrt(2 / 10), abs=TOL)
    assert r.status == STATUS_OK and r.reason is None
    # Every delta equal: no spread, so the refusal names the flag to add.
    with pytest.raises(ConfigError, match=r"all 3 deltas of the pair are equal.*--sigma math=S,other=S,non=S"):
        transfer_index(base, {b: v + 5 for b, v in base.items()})


def test_ddof_cancels_in_ti_but_not_in_di():
    # One shared σ over six deltas: σ(ddof=0) = σ(ddof=1)·√(5/6), so TI is unchanged while every
    # DI grows by (6/5)^(1/4).
    r1 = transfer_index(BASE, TUNED, ddof=1)
    r0 = transfer_index(BASE, TUNED, ddof=0)
    assert r0.ti["non"] == pytest.approx(r1.ti["non"], abs=TOL)
    assert r0.math_gain == pytest.approx(r1.math_gain * 1.2**0.25, abs=TOL)


def test_population_sigma_over_two_pairs():
    # Pair A: the TUNED scores; pair B: math500 66 (Δ=6), aime24 22 (Δ=2), gpqa 31 (Δ=1),
    # headqa 71 (Δ=1), ifeval 80 (Δ=0), coqa 62 (Δ=2).
    # math deltas {16, 36, 6, 2}: mean 15, squared deviations 1+441+81+169 = 692
    #   ddof=1: σ = √(692/3);  ddof=0: σ = √(692/4) = √173
    scores = {
        "base": BASE,
        "A": TUNED,
        "B": {"math500": 66.0, "aime24": 22.0, "gpqa_diamond": 31.0, "headqa": 71.0, "ifeval": 80.0, "coqa": 62.0},
    }
    pairs = [("A", "base"), ("B", "base")]
    deltas = population_deltas(scores, pairs)
    assert sorted(deltas["math"]) == [2.0, 6.0, 16.0, 36.0]
    assert population_sigma(scores, pairs)["math"] == pytest.approx(math.sqrt(692 / 3), abs=TOL)
    assert population_sigma(scores, pairs, ddof=0)["math"] == pytest.approx(math.sqrt(173), abs=TOL)
    # other deltas {4, -1, 1, 1}: mean 1.25, sq. dev. 7.5625+5.0625+0.0625+0.0625 = 12.75
    assert population_sigma(scores, pairs)["other"] == pytest.approx(math.sqrt(12.75 / 3), abs=TOL)
    # Feeding the study σ to a pair is the same as passing it explicitly.
    sigma = population_sigma(scores, pairs)
    r = transfer_index(BASE, TUNED, sigma=sigma)
    assert r.sigma == sigma and r.sigma_source == "given"


def test_near_zero_math_gain_is_undefined_not_huge():
    # math500 60 -> 60.1 (Δ=0.1, δ=0.025, s=+0.158114), aime24 20 -> 19.95 (Δ=-0.05, δ=-0.0125,
    # s=-0.111803); ŵ = 1/3, 2/3 -> DI_math = 0.0527046 - 0.0745356 = -0.0218310, |DI| < 0.25.
    # The raw ratio would be 100·1.1/(-0.02183) ≈ -5039 %.
    tuned = dict(TUNED, math500=60.1, aime24=19.95)
    r = transfer_index(BASE, tuned, sigma=SIGMA)
    assert r.math_gain == pytest.approx(math.sqrt(0.025) / 3 - 2 * math.sqrt(0.0125) / 3, abs=TOL)
    assert r.ti == {"other": None, "non": None}
    assert r.status == STATUS_UNDEFINED == "math gain ≈ 0: TI undefined"
    assert r.group_gain["other"] == pytest.approx(1.1, abs=TOL)  # DI still reported
    forced = transfer_index(BASE, tuned, sigma=SIGMA, min_math_gain=0.0)
    assert forced.ti["other"] == pytest.approx(100 * 1.1 / forced.math_gain, abs=TOL)
    assert abs(forced.ti["other"]) > 5000


def test_math_loss_is_flagged():
    tuned = dict(TUNED, math500=44.0, aime24=11.0)  # Δ = -16, -9 -> s = -2, -1.5
    r = transfer_index(BASE, tuned, sigma=SIGMA)
    # DI_math = -2/3 - 1 = -5/3; TI_other = 100·1.1/(-5/3) = -66
    assert r.math_gain == pytest.approx(-5 / 3, abs=TOL)
    assert r.ti["other"] == pytest.approx(-66.0, abs=TOL)
    assert r.status == STATUS_MATH_FELL


V1_BASE = {"math500": 50.0, "aime24": 10.0, "gpqa_diamond": 40.0, "headqa": 50.0, "ifeval": 80.0, "coqa": 50.0}
V1_TUNED = {"math500": 60.0, "aime24": 20.0, "gpqa_diamond": 42.0, "headqa": 49.0, "ifeval": 76.0, "coqa": 47.0}


def test_v1_hand_computed():
    # math: 10/50 = 0.2, 10/10 = 1.0 -> ΔR_math = 0.6
    # other: 2/40 = 0.05, -1/50 = -0.02 -> ΔR_other = 0.015 -> TI_other = 100·0.015/0.6 = 2.5
    # non: -4/80 = -0.05, -3/50 = -0.06 -> ΔR_non = -0.055 -> TI_non = -9.1666…
    r = transfer_index(V1_BASE, V1_TUNED, version="v1")
    assert by_name(r)["aime24"].relative_gain == pytest.approx(1.0, abs=TOL)
    assert r.math_gain == pytest.approx(0.6, abs=TOL)
    assert r.group_gain["other"] == pytest.approx(0.015, abs=TOL)
    assert r.ti["other"] == pytest.approx(2.5, abs=TOL)
    assert r.ti["non"] == pytest.approx(-55 / 6, abs=TOL)
    assert r.sigma is None and r.gain_name == "ΔR"


def test_v1_zero_base_is_left_out_and_named():
    # aime25 0 -> 10 has no relative gain: ΔR_math stays the mean of 0.2 and 1.0 = 0.6.
    base, tuned = dict(V1_BASE, aime25=0.0), dict(V1_TUNED, aime25=10.0)
    r = transfer_index(base, tuned, version="v1")
    assert by_name(r)["aime25"].relative_gain is None
    assert r.math_gain == pytest.approx(0.6, abs=TOL)
    assert r.ti["other"] == pytest.approx(2.5, abs=TOL)
    assert any("aime25" in n and "base score 0" in n for n in r.notes)


def test_v1_all_math_bases_zero_is_undefined():
    base = dict(V1_BASE, math500=0.0, aime24=0.0)
    r = transfer_index(base, V1_TUNED, version="v1")
    assert math.isnan(r.math_gain)
    assert r.ti == {"other": None, "non": None} and r.status == STATUS_UNDEFINED
    assert r.to_dict()["math_gain"] is None


def test_v1_near_zero_threshold():
    # math: 0.5/50 = 0.01 and 0.1/10 = 0.01 -> ΔR_math = 0.01 < 0.02
    tuned = dict(V1_TUNED, math500=50.5, aime24=10.1)
    assert transfer_index(V1_BASE, tuned, version="v1").status == STATUS_UNDEFINED


def test_group_override_and_missing_group():
    base = {"math500": 60.0, "aime24": 20.0, "mybench": 30.0}
    tuned = {"math500": 76.0, "aime24": 56.0, "mybench": 34.0}
    r = transfer_index(base, tuned, {"mybench": "other"}, sigma={"math": 4.0, "other": 1.0})
    # DI_other = 1.0·2 = 2 -> TI_other = 100·2/(8/3) = 75
    assert r.ti["other"] == pytest.approx(75.0, abs=TOL)
    assert r.ti["non"] is None and any("no non benchmark" in n for n in r.notes)


def test_errors_are_one_line_and_actionable():
    with pytest.raises(DataError, match="unknown benchmark 'mybench'.*math500"):
        transfer_index({"math500": 1.0, "mybench": 2.0}, {"math500": 3.0, "mybench": 4.0})
    with pytest.raises(DataError, match="different benchmarks"):
        transfer_index({"math500": 1.0}, {"aime24": 3.0})
    with pytest.raises(DataError, match="no math benchmark"):
        transfer_index({"ifeval": 1.0}, {"ifeval": 3.0}, version="v1")
    with pytest.raises(DataError, match="outside 0-100"):
        transfer_index({"math500": 0.5}, {"math500": 120.0}, version="v1")
    with pytest.raises(ConfigError, match="σ for group 'non'"):
        transfer_index(BASE, TUNED, sigma={"math": 1.0, "other": 1.0})
    with pytest.raises(ConfigError, match="needs more than 1"):
        sigma_from_deltas({"math": [3.0]})
    with pytest.raises(ConfigError, match="is 0"):
        sigma_from_deltas({"math": [3.0, 3.0]})


def test_to_dict_is_json_ready():
    import json

    d = transfer_index(BASE, TUNED, sigma=SIGMA).to_dict()
    assert json.loads(json.dumps(d))["ti"]["other"] == pytest.approx(41.25)
    assert d["benchmarks"][0]["benchmark"] == "aime24" and d["gain_name"] == "DI"
