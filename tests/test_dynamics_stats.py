"""The statistics of transfer dynamics on synthetic data with known answers: the hierarchical
bootstrap over seeds then items, Spearman's ρ with its bootstrap interval, Holm's correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from transferlab.errors import DataError
from transferlab.transfer.correlation import spearman, spearman_bootstrap, spearman_rows
from transferlab.transfer.seeds import hierarchical_bootstrap, hierarchical_means, seed_group_transfer
from transferlab.transfer.ti import transfer_index
from transferlab.transfer.trajectory import first_significant_drop, holm, pooled_items


def crossed(rng: np.random.Generator, *, mu: float, seed_sd: float, item_sd: float, noise_sd: float, seeds: int, items: int) -> np.ndarray:
    """Per-(seed, item) values ``mu + u_seed + e_item + noise``: a training's seeds crossed with the items."""
    u = rng.normal(0, seed_sd, size=(seeds, 1))
    e = rng.normal(0, item_sd, size=(1, items))
    return mu + u + e + rng.normal(0, noise_sd, size=(seeds, items))


def test_hierarchical_interval_covers_the_known_mean_and_is_wider_than_items_only_when_seeds_vary():
    rng = np.random.default_rng(1)
    covered = {"hierarchical": 0, "items": 0}
    widths = {"hierarchical": [], "items": []}
    trials = 60
    for t in range(trials):
        x = crossed(rng, mu=2.0, seed_sd=3.0, item_sd=2.0, noise_sd=4.0, seeds=8, items=150)
        s = hierarchical_bootstrap(x, n_resamples=1000, seed=t)
        for name, ci in (("hierarchical", s.hierarchical_ci), ("items", s.items_ci)):
            covered[name] += ci[0] <= 2.0 <= ci[1]
            widths[name].append(ci[1] - ci[0])
    # The seed effect (sd 3 over 8 seeds: SE ~1.06) dominates the item part (SE ~0.37): the
    # items-only interval misses the mean most of the time, the hierarchical one mostly covers it
    # (a percentile bootstrap over 8 top-level units runs a little below its nominal 95%).
    assert covered["hierarchical"] / trials >= 0.8, covered
    assert covered["items"] / trials <= 0.5, covered
    assert np.mean(widths["hierarchical"]) > 2.5 * np.mean(widths["items"]), {k: np.mean(v) for k, v in widths.items()}


def test_the_spread_between_seeds_is_the_known_one_and_without_it_both_intervals_agree():
    rng = np.random.default_rng(2)
    x = crossed(rng, mu=0.0, seed_sd=2.0, item_sd=1.0, noise_sd=1.0, seeds=40, items=400)
    s = hierarchical_bootstrap(x, n_resamples=500, seed=0)
    assert s.between_seed_sd == pytest.approx(2.0, rel=0.25)
    assert s.per_seed == pytest.approx(tuple(x.mean(axis=1)))
    assert s.mean == pytest.approx(float(x.mean())) and (s.n_seeds, s.n_items) == (40, 400)

    same = crossed(rng, mu=0.0, seed_sd=0.0, item_sd=1.0, noise_sd=0.0, seeds=4, items=300)  # every seed alike
    s = hierarchical_bootstrap(same, n_resamples=2000, seed=0)
    w_hier, w_items = (ci[1] - ci[0] for ci in (s.hierarchical_ci, s.items_ci))
    assert w_hier == pytest.approx(w_items, rel=0.15)
    assert s.between_seed_sd == pytest.approx(0.0, abs=1e-12)


def test_items_shared_by_the_seeds_keep_the_item_variance_that_a_nested_draw_averages_away():
    rng = np.random.default_rng(3)
    x = crossed(rng, mu=0.0, seed_sd=0.0, item_sd=2.0, noise_sd=0.0, seeds=6, items=200)  # only item effects
    shared = hierarchical_means(x, 4000, np.random.default_rng(0))
    nested = hierarchical_means(x, 4000, np.random.default_rng(0), shared_items=False)
    expected_se = x[0].std(ddof=0) / math.sqrt(200)  # the item part: what one draw of 200 items gives
    assert shared.std() == pytest.approx(expected_se, rel=0.1)
    assert nested.std() == pytest.approx(expected_se / math.sqrt(6), rel=0.15)


def test_stacked_quantities_share_every_draw_so_their_difference_stays_paired():
    rng = np.random.default_rng(4)
    base = rng.random(50)
    tuned = np.stack([base + 0.1, base + 0.1, base + 0.1])  # every seed exactly 0.1 above the base on every item
    reps = hierarchical_means(np.stack([np.broadcast_to(base, tuned.shape), tuned]), 300, rng)
    assert reps.shape == (300, 2)
    assert np.allclose(reps[:, 1] - reps[:, 0], 0.1)  # no item or seed noise leaks into a paired difference
    with pytest.raises(DataError, match="shape"):
        hierarchical_means(np.zeros(5), 10, rng)


def _items(values: np.ndarray, prefix: str = "i") -> dict[str, list[float]]:
    return {f"{prefix}{i}": [float(v)] for i, v in enumerate(values)}


def test_a_seed_group_against_its_base_gives_each_seeds_delta_and_both_intervals():
    rng = np.random.default_rng(5)
    groups = {"m1": "math", "m2": "math", "o1": "other", "o2": "other", "n1": "non", "n2": "non"}
    n = 120
    base = {b: _items(rng.random(n) < 0.4) for b in groups}
    offsets = {"math": (0.25, 0.30, 0.35), "other": (0.0, 0.10, 0.20), "non": (-0.15, 0.0, 0.15)}  # seeds differ a lot outside math
    tuned = {}
    for k in range(3):
        tuned[f"s{k}"] = {b: _items(np.clip(np.array([v[0] for v in base[b].values()]) + offsets[g][k], 0, 1)) for b, g in groups.items()}
    result = seed_group_transfer(base, tuned, groups, version="v1", n_resamples=1000, seed=0)
    assert result.seeds == ("s0", "s1", "s2") and set(result.n_items.values()) == {n}
    for g in offsets:
        spread = result.group_delta[g]
        expected = [
            np.mean([100 * (np.mean([v[0] for v in tuned[s][b].values()]) - np.mean([v[0] for v in base[b].values()])) for b in groups if groups[b] == g])
            for s in tuned
        ]
        assert spread.per_seed == pytest.approx(tuple(expected))
        assert spread.mean == pytest.approx(np.mean(expected))
        w_items, w_hier = (ci[1] - ci[0] for ci in (spread.items_ci, spread.hierarchical_ci))
        if g != "math":
            assert w_hier > w_items  # seeds 10-15 points apart: the hierarchical interval is the wider
    point = transfer_index(
        {b: 100 * np.mean([v[0] for v in base[b].values()]) for b in groups},
        {b: 100 * np.mean([np.mean([v[0] for v in tuned[s][b].values()]) for s in tuned]) for b in groups},
        groups,
        version="v1",
    )
    assert result.ti["non"]["mean"] == pytest.approx(point.ti["non"])
    assert len(result.ti["other"]["per_seed"]) == 3 and result.ti["other"]["between_seed_sd"] > 0
    lo_i, hi_i = result.ti["other"]["items_ci"]
    lo_h, hi_h = result.ti["other"]["hierarchical_ci"]
    assert hi_h - lo_h > hi_i - lo_i
    assert result.to_dict()["group_delta"]["non"]["n_seeds"] == 3


def test_spearman_matches_scipy_with_ties_and_is_nan_for_a_constant():
    rng = np.random.default_rng(6)
    x, y = rng.integers(0, 5, 30).astype(float), rng.normal(size=30)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    rows = rng.normal(size=(4, 12))
    assert spearman_rows(rows, rows[::-1]) == pytest.approx([spearmanr(a, b).statistic for a, b in zip(rows, rows[::-1])])
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_interval_covers_the_known_correlation():
    r = 0.6
    rho = 6 / math.pi * math.asin(r / 2)  # Spearman's ρ of a bivariate normal with Pearson r
    rng = np.random.default_rng(7)
    cov = [[1, r], [r, 1]]
    big = rng.multivariate_normal([0, 0], cov, size=400)
    c = spearman_bootstrap(big[:, 0], big[:, 1], n_resamples=2000, seed=0)
    assert c.low < rho < c.high and c.high - c.low < 0.2 and c.n == 400 and c.n_degenerate == 0
    covered = 0
    for t in range(100):
        d = rng.multivariate_normal([0, 0], cov, size=40)
        c = spearman_bootstrap(d[:, 0], d[:, 1], n_resamples=1000, seed=t)
        covered += c.low <= rho <= c.high
    assert 85 <= covered <= 100, covered
    none = rng.normal(size=(400, 2))
    c = spearman_bootstrap(none[:, 0], none[:, 1], strata=["a"] * 200 + ["b"] * 200, seed=0)
    assert c.low < 0 < c.high and c.stratified


def test_spearman_bootstrap_refuses_too_few_or_undefined_points():
    with pytest.raises(DataError, match="at least 3"):
        spearman_bootstrap([1, 2], [3, 4])
    with pytest.raises(DataError, match="finite"):
        spearman_bootstrap([1, 2, float("nan")], [3, 4, 5])
    with pytest.raises(DataError, match="strata"):
        spearman_bootstrap([1, 2, 3], [3, 4, 5], strata=["a"])


def test_holm_adjusts_step_down_and_the_first_drop_needs_a_negative_delta():
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])  # 0.005·4, 0.01·3, max(0.03·2, ·), max(0.04·1, 0.06)
    assert np.isnan(holm([0.2, float("nan")])[1]) and holm([0.2, float("nan")])[0] == pytest.approx(0.2)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8·2 clipped at 1
    steps = [10, 20, 30, 40]
    assert first_significant_drop(steps, [-1.0, -3.0, 2.0, -5.0], [0.2, 0.01, 0.001, 0.04]) == 20
    assert first_significant_drop(steps, [1.0, 3.0, 2.0, 5.0], [0.001] * 4) is None
    assert pooled_items({"a": {"1": [1.0]}, "b": {"1": [0.0]}}) == {"a/1": [1.0], "b/1": [0.0]}
