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
    values = np.random.default_rng(1).random(2191)  # all distinct: items are drawn one by one
    for n_resamples in (10_000, 2_000, 7):
        rng = np.random.default_rng(4)
        whole = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
        assert bootstrap_ci(values, n_resamples=n_resamples, seed=4) == percentile_interval(whole)
    # few distinct values: drawn by counts, in blocks too; the same interval, bit for bit, as one draw
    binary = (np.random.default_rng(2).random(2191) < 0.3).astype(float)
    for n_resamples in (20_000, 7):
        rng = np.random.default_rng(4)
        distinct, counts = np.unique(binary, return_counts=True)
        whole = rng.multinomial(binary.size, counts / binary.size, size=n_resamples) @ distinct / binary.size
        assert bootstrap_ci(binary, n_resamples=n_resamples, seed=4) == percentile_interval(whole)


@pytest.mark.parametrize("values", [(np.random.default_rng(5).random(3000) < 0.37).astype(float), np.random.default_rng(6).integers(0, 5, 1200) / 4])
def test_bootstrap_by_counts_draws_from_the_law_of_resampling_items(values):
    """Few distinct values (0/1 scores, quarters of 4 samples) are resampled by counts of each value:
    the same distribution as drawing items one by one. 40,000 replicates each way: the intervals
    agree to within their Monte Carlo error (about 0.1 points here), and for 0/1 scores they are
    the binomial's own quantiles: a replicate's mean is Binomial(n, p)/n."""
    n = values.size
    rng = np.random.default_rng(11)
    by_items = values[rng.integers(0, n, size=(40_000, n))].mean(axis=1)
    low, high = bootstrap_ci(values, n_resamples=40_000, seed=12)
    assert (low, high) != percentile_interval(by_items)  # another draw ...
    assert low == pytest.approx(np.quantile(by_items, 0.025), abs=0.002)  # ... of the same law
    assert high == pytest.approx(np.quantile(by_items, 0.975), abs=0.002)
    if set(np.unique(values)) == {0.0, 1.0}:
        from scipy.stats import binom

        p = values.mean()
        assert low == pytest.approx(binom.ppf(0.025, n, p) / n, abs=1.5 / n)
        assert high == pytest.approx(binom.ppf(0.975, n, p) / n, abs=1.5 / n)
