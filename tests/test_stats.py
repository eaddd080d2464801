"""Paired bootstrap, sign-flip test and TI bootstrap over simulated items."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from transferlab.errors import ConfigError, DataError
from transferlab.transfer import resample
from transferlab.transfer.stats import paired_bootstrap_delta, paired_permutation_test, ti_bootstrap
from transferlab.transfer.ti import STATUS_UNDEFINED, transfer_index


def simulate(n_items: int, effect: float, k: int = 4, seed: int = 1, spread=(0.2, 0.8)):
    """Items of varying difficulty p_i; tuned answers correctly with p_i + effect; k samples each."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(*spread, size=n_items)
    base = {f"q{i}": list((rng.random(k) < p[i]).astype(float)) for i in range(n_items)}
    tuned = {f"q{i}": list((rng.random(k) < p[i] + effect).astype(float)) for i in range(n_items)}
    return base, tuned


def test_ci_contains_true_delta_and_shrinks_with_items():
    small = paired_bootstrap_delta(*simulate(50, 0.10), seed=3)
    large = paired_bootstrap_delta(*simulate(800, 0.10), seed=3)
    for r in (small, large):
        assert r.low < 10.0 < r.high
        assert r.low <= r.delta <= r.high
    # width ~ 1/√n: √(800/50) = 4; allow sampling slack.
    assert (large.high - large.low) < (small.high - small.low) / 2.5
    assert large.n_items == 800 and large.paired


def test_paired_ci_narrower_than_unpaired_when_correlated():
    # Difficulty spread 0..1 makes base and tuned item scores strongly correlated.
    base, tuned = simulate(300, 0.05, k=8, spread=(0.0, 0.95))
    paired = paired_bootstrap_delta(base, tuned, seed=0)
    unpaired = paired_bootstrap_delta(base, tuned, seed=0, paired=False)
    assert paired.delta == unpaired.delta
    assert (paired.high - paired.low) < 0.7 * (unpaired.high - unpaired.low)


def test_second_level_resampling_widens_slightly():
    base, tuned = simulate(200, 0.05, k=4)
    two = paired_bootstrap_delta(base, tuned, seed=0)
    one = paired_bootstrap_delta(base, tuned, seed=0, resample_samples=False)
    assert two.delta == one.delta
    assert (two.high - two.low) > (one.high - one.low)


def test_deterministic_for_a_seed():
    base, tuned = simulate(100, 0.05)
    assert paired_bootstrap_delta(base, tuned, seed=7) == paired_bootstrap_delta(base, tuned, seed=7)
    assert paired_bootstrap_delta(base, tuned, seed=7) != paired_bootstrap_delta(base, tuned, seed=8)
    t1 = paired_permutation_test(base, tuned, seed=5, n_permutations=2000)
    assert t1 == paired_permutation_test(base, tuned, seed=5, n_permutations=2000)


def test_item_sets_must_overlap():
    with pytest.raises(DataError, match="share no item"):
        paired_bootstrap_delta({"a": [1.0]}, {"b": [1.0]})
    with pytest.warns(UserWarning, match="1 item\\(s\\) only in base and 2 only in tuned"):
        r = paired_bootstrap_delta({"a": [1.0], "b": [0.0], "c": [1.0]}, {"a": [1.0], "b": [1.0], "x": [0.0], "y": [1.0]})
    assert (r.n_items, r.n_only_base, r.n_only_tuned) == (2, 1, 2)
    assert r.base == 50.0 and r.tuned == 100.0 and r.delta == 50.0
    with pytest.raises(DataError, match="in \\[0, 1\\]"):
        paired_bootstrap_delta({"a": [80.0]}, {"a": [90.0]})


def test_permutation_exact_small_n_hand_computed():
    # 5 items, each +1 (tuned right, base wrong): of the 2^5 = 32 sign patterns only all-plus
    # and all-minus reach |mean| = 100 points, so p = 2/32 = 0.0625.
    base = {f"q{i}": [0.0] for i in range(5)}
    tuned = {f"q{i}": [1.0] for i in range(5)}
    t = paired_permutation_test(base, tuned)
    assert t.exact and t.n_permutations == 32
    assert t.p_value == pytest.approx(0.0625)
    assert t.statistic == pytest.approx(100.0)
    # Add 3 items with no difference: they carry no information; p unchanged, mean diluted.
    base.update({f"z{i}": [1.0] for i in range(3)})
    tuned.update({f"z{i}": [1.0] for i in range(3)})
    t2 = paired_permutation_test(base, tuned)
    assert t2.p_value == pytest.approx(0.0625) and t2.n_nonzero == 5 and t2.n_items == 8
    assert t2.statistic == pytest.approx(62.5)


def test_permutation_p_small_for_effect_large_for_none():
    effect = paired_permutation_test(*simulate(300, 0.15), seed=0)
    assert not effect.exact and effect.p_value < 0.001
    none = paired_permutation_test(*simulate(300, 0.0, seed=4), seed=0)
    assert none.p_value > 0.2
    same = paired_permutation_test({"a": [1.0], "b": [0.0]}, {"a": [1.0], "b": [0.0]})
    assert same.p_value == 1.0


BENCHES = {
    "math500": 0.30,
    "aime24": 0.25,  # math: large gains (fractions)
    "gpqa_diamond": 0.08,
    "headqa": 0.06,  # other: small gains
    "ifeval": -0.12,
    "coqa": -0.10,  # non: losses
}


def study(effects=BENCHES, n_items=120, k=2, seed=0):
    rng = np.random.default_rng(seed)
    base, tuned = {}, {}
    for bench, eff in effects.items():
        p = rng.uniform(0.2, 0.6, size=n_items)
        base[bench] = {f"i{j}": list((rng.random(k) < p[j]).astype(float)) for j in range(n_items)}
        tuned[bench] = {f"i{j}": list((rng.random(k) < p[j] + eff).astype(float)) for j in range(n_items)}
    return base, tuned


def test_ti_bootstrap_point_matches_transfer_index_and_cis_cover_it():
    base, tuned = study()
    sigma = {"math": 10.0, "other": 3.0, "non": 3.0}
    r = ti_bootstrap(base, tuned, sigma=sigma, n_resamples=400, seed=1)
    means = {b: 100 * np.mean([np.mean(v) for v in base[b].values()]) for b in base}
    tmeans = {b: 100 * np.mean([np.mean(v) for v in tuned[b].values()]) for b in tuned}
    expected = transfer_index(means, tmeans, sigma=sigma)
    assert r.point.ti["other"] == pytest.approx(expected.ti["other"], abs=1e-9)
    assert r.point.ti["non"] == pytest.approx(expected.ti["non"], abs=1e-9)
    for g in ("other", "non"):
        low, high = r.ti_ci[g]
        assert low < r.point.ti[g] < high
    assert r.ti_ci["non"][1] < 0 < r.ti_ci["other"][1]
    assert r.math_gain_ci[0] > 0 and r.share_math_near_zero == 0.0
    assert r.status == r.point.status and not r.sigma_resampled
    assert set(r.benchmark_delta_ci) == set(BENCHES)
    again = ti_bootstrap(base, tuned, sigma=sigma, n_resamples=400, seed=1)
    assert again.ti_ci == r.ti_ci


def test_ti_bootstrap_v1_and_resampled_sigma():
    base, tuned = study(n_items=80)
    v1 = ti_bootstrap(base, tuned, version="v1", n_resamples=300)
    assert v1.ti_ci["other"] is not None and v1.point.version == "v1"
    fixed = ti_bootstrap(base, tuned, n_resamples=300)
    moving = ti_bootstrap(base, tuned, n_resamples=300, resample_sigma=True)
    assert moving.sigma_resampled and moving.point.ti == fixed.point.ti and moving.point.sigma == fixed.point.sigma
    # One pair's σ is shared by every group, so resampling it moves DI's interval, not TI's.
    assert moving.math_gain_ci != fixed.math_gain_ci
    for g in ("other", "non"):
        assert moving.ti_ci[g] == pytest.approx(fixed.ti_ci[g], abs=1e-9)
    with pytest.raises(ConfigError, match="resample_sigma"):
        ti_bootstrap(base, tuned, sigma={"math": 1.0, "other": 1.0, "non": 1.0}, resample_sigma=True)


def test_ti_bootstrap_no_math_gain_is_undefined():
    effects = dict(BENCHES, math500=0.0, aime24=0.0)
    base, tuned = study(effects, n_items=60, seed=2)
    r = ti_bootstrap(base, tuned, sigma={"math": 10.0, "other": 3.0, "non": 3.0}, n_resamples=300)
    assert r.status == STATUS_UNDEFINED
    assert r.ti_ci == {"other": None, "non": None}
    assert r.math_gain_ci[0] < 0 < r.math_gain_ci[1]
    assert r.share_math_near_zero > 0.05


def test_ti_bootstrap_benchmark_sets_must_match():
    base, tuned = study(n_items=10)
    del tuned["coqa"]
    with pytest.raises(DataError, match="coqa"):
        ti_bootstrap(base, tuned)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ti_bootstrap(*study(n_items=10), n_resamples=10)  # no partial-overlap warning


def _one_by_one(base, tuned, n_resamples, seed, paired=True, resample_samples=True):
    """The bootstrap as its definition says: draw n items with replacement, and for each drawn item
    its k samples with replacement (the reference for the draws by counts of item kinds); replicate
    deltas in points, shape ``(n_resamples,)``, 250 replicates at a time."""
    rng = np.random.default_rng(seed)
    items = sorted(base)
    n = len(items)

    def padded(scores):
        counts = np.array([len(scores[i]) for i in items])
        values = np.zeros((n, counts.max()))
        for row, i in enumerate(items):
            values[row, : counts[row]] = scores[i]
        return values, counts

    def means(values, counts, idx):
        if not resample_samples:
            return (values.sum(axis=1) / counts)[idx].mean(axis=1)
        k = counts[idx][..., None]
        draw = (rng.random(idx.shape + (values.shape[1],)) * k).astype(np.int64)
        return np.where(np.arange(values.shape[1]) < k, values[idx[..., None], draw], 0.0).sum(axis=-1).__truediv__(k[..., 0]).mean(axis=1)

    (vb, cb), (vt, ct) = padded(base), padded(tuned)
    out = []
    for _ in range(n_resamples // 250):
        idx_b = rng.integers(0, n, size=(250, n))
        idx_t = idx_b if paired else rng.integers(0, n, size=(250, n))
        out.append(100.0 * (means(vt, ct, idx_t) - means(vb, cb, idx_b)))
    return np.concatenate(out)


@pytest.mark.parametrize(
    ("k", "paired", "resample_samples"),
    [(1, True, True), (4, True, True), (4, False, True), (4, True, False), ((1, 4), True, True)],
)
def test_bootstrap_by_item_kinds_draws_from_the_law_of_resampling_items(k, paired, resample_samples):
    """0/1 samples put items into few kinds ((samples, correct) for base and tuned): the replicates
    are drawn as counts of each kind and binomials of their samples, not item by item. The interval
    agrees with the plain two-level bootstrap's within Monte Carlo error (5,000 replicates each,
    ~0.15 points of error on these 600-item deltas), paired or not, with or without the second level,
    one sample per item or a mix of 1 and 4."""
    rng = np.random.default_rng(3)
    n = 600
    p = rng.uniform(0.1, 0.9, n)
    counts = np.full(n, k) if isinstance(k, int) else rng.choice(k, n)
    base = {f"q{i}": list((rng.random(counts[i]) < p[i]).astype(float)) for i in range(n)}
    tuned = {f"q{i}": list((rng.random(counts[i]) < min(1.0, p[i] + 0.05)).astype(float)) for i in range(n)}
    fast = paired_bootstrap_delta(base, tuned, n_resamples=5000, seed=1, paired=paired, resample_samples=resample_samples)
    reference = _one_by_one(base, tuned, 5000, seed=2, paired=paired, resample_samples=resample_samples)
    width = np.quantile(reference, 0.975) - np.quantile(reference, 0.025)
    assert fast.low == pytest.approx(np.quantile(reference, 0.025), abs=0.06 * width)
    assert fast.high == pytest.approx(np.quantile(reference, 0.975), abs=0.06 * width)
    # the kinds are few here (at most 5 x 5 + 4 among 600 items), so the draws were by counts
    b, t, _, _ = resample.align(base, tuned)
    assert resample.replicates_by_kind(b, t, 10, np.random.default_rng(0), paired=paired, resample_samples=resample_samples) is not None


def test_bootstrap_by_item_kinds_only_where_it_holds():
    """Samples other than 0/1 under the second level, or as many kinds as items: drawn item by item."""
    rng = np.random.default_rng(0)
    fractional = {f"q{i}": [0.5, 1.0] for i in range(100)}
    binary = {f"q{i}": [1.0, 0.0] for i in range(100)}
    many = {f"q{i}": list(rng.random(1)) for i in range(100)}
    for base, tuned, second_level in ((fractional, binary, True), (many, many, False)):
        b, t, _, _ = resample.align(base, tuned)
        assert resample.replicates_by_kind(b, t, 10, rng, paired=True, resample_samples=second_level) is None
    b, t, _, _ = resample.align(fractional, binary)
    assert resample.replicates_by_kind(b, t, 10, rng, paired=True, resample_samples=False) is not None  # item means: 2 kinds
