import math

import numpy as np
import pytest

from transferlab.metrics import accuracy, avg_at_k, bootstrap_ci, estimate, mean_pass_at_k, pass_at_k, percentile_interval


def test_pass_at_k_hand_computed():
    # n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 4, 2) == 1.0  # n - c < k
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)  # pass@1 = c/n
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_mean_pass_at_k_and_avg_at_k():
    correct = {"a": [True, False, False, False], "b": [True, True, False, False]}
    assert mean_pass_at_k(correct, 1) == pytest.approx((0.25 + 0.5) / 2)
    # pass@2 for a: 1 - C(3,2)/C(4,2) = 0.5 ; for b: 1 - C(2,2)/C(4,2) = 5/6
    assert mean_pass_at_k(correct, 2) == pytest.approx((0.5 + 5 / 6) / 2)
    assert avg_at_k({"a": [1, 0, 0, 0], "b": [1, 1, 0, 0]}) == pytest.approx(0.375)
    assert math.isnan(accuracy([]))


def test_bootstrap_ci_contains_mean_and_shrinks():
    rng = np.random.default_rng(1)
    small = rng.random(50) < 0.6
    large = rng.random(2000) < 0.6
    lo_s, hi_s = bootstrap_ci(small, seed=0)
    lo_l, hi_l = bootstrap_ci(large, seed=0)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    # binomial theory: half-width ~ 1.96 * sqrt(p(1-p)/n)
    assert (hi_l - lo_l) / 2 == pytest.approx(1.96 * math.sqrt(0.24 / 2000), rel=0.15)
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)


def test_bootstrap_edge_cases():
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert bootstrap_ci([1.0]) == (1.0, 1.0)
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def test_estimate_over_items_not_samples():
    e = estimate({"a": [1, 1, 1, 1], "b": [0, 0, 0, 0]})
    assert (e.value, e.n_items, e.n_samples) == (0.5, 2, 8)
    assert e.low == 0.0 and e.high == 1.0


def test_bootstrap_ci_in_blocks_gives_the_very_interval_of_one_draw():
    """10,000 resamples of 2,191 items are drawn in blocks (memory stays flat): the same draws, the
    same interval, bit for bit, as resampling all at once."""
    values = np.random.default_rng(1).random(2191).round(2)
    for n_resamples in (10_000, 2_000, 7):
        rng = np.random.default_rng(4)
        whole = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
        assert bootstrap_ci(values, n_resamples=n_resamples, seed=4) == percentile_interval(whole)
