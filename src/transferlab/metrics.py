"""Accuracy, avg@k, unbiased pass@k and bootstrap confidence intervals over items.

All functions are pure. Scores are per (item, sample) values in [0, 1]; an item's score is the
mean of its samples (avg@k). Results are fractions in [0, 1]; multiply by 100 for percent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval (fractions in [0, 1])."""

    value: float
    low: float
    high: float
    n_items: int
    n_samples: int

    def as_percent(self) -> tuple[float, float, float]:
        """``(value, low, high)`` in percentage points."""
        return 100 * self.value, 100 * self.low, 100 * self.high


def item_means(scores_by_item: Mapping[str, Sequence[float]]) -> np.ndarray:
    """Per-item mean over samples, shape ``(n_items,)``; items are taken in sorted key order."""
    return np.array([_mean(scores_by_item[k]) for k in sorted(scores_by_item)], dtype=float)


def _mean(values: Sequence[float]) -> float:
    """The mean of one item's samples (``nan`` for none), in plain Python: an item holds a handful."""
    return float(sum(values)) / len(values) if len(values) else float("nan")


def accuracy(scores: Sequence[float]) -> float:
    """Mean of 0/1 (or fractional) scores; ``nan`` for no scores."""
    return float(np.mean(scores)) if len(scores) else float("nan")


def avg_at_k(scores_by_item: Mapping[str, Sequence[float]]) -> float:
    """avg@k: the mean over items of the mean over that item's k samples."""
    return float(item_means(scores_by_item).mean()) if scores_by_item else float("nan")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021) for one item with ``n`` samples of which ``c`` are correct.

    ``1 - C(n - c, k) / C(n, k)``; requires ``1 <= k <= n`` and ``0 <= c <= n``.
    """
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_pass_at_k(correct_by_item: Mapping[str, Sequence[bool]], k: int) -> float:
    """Mean unbiased pass@k over items; every item needs at least ``k`` samples."""
    values = [pass_at_k(len(v), int(sum(bool(x) for x in v)), k) for v in correct_by_item.values()]
    return float(np.mean(values)) if values else float("nan")


_BLOCK_ELEMENTS = 1 << 21  # resampled indices drawn at a time (16 MB of int64), whatever the number of resamples


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of per-item ``values`` (shape ``(n_items,)``).

    Resamples items with replacement; deterministic for a seed. Where the items take few distinct
    values (0/1 scores), a replicate's counts of each value are drawn instead of its items
    (:func:`few_distinct`): the same distribution, 2 draws instead of thousands. Returns
    ``(nan, nan)`` for no items and ``(v, v)`` for one item.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    distinct, counts = np.unique(x, return_counts=True)
    if few_distinct(distinct.size, x.size):  # how often each value is drawn: the same law, far fewer draws
        for block, drawn in drawn_counts(rng, counts, n_resamples):
            means[block] = drawn @ distinct / x.size
        return percentile_interval(means, confidence)
    rows = max(1, _BLOCK_ELEMENTS // x.size)  # resampled in blocks: the same draws, memory bounded
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        means[start : start + size] = x[rng.integers(0, x.size, size=(size, x.size))].mean(axis=1)
    return percentile_interval(means, confidence)


def few_distinct(n_distinct: int, n_items: int) -> bool:
    """True when resampling ``n_items`` items that take ``n_distinct`` distinct values (or kinds)
    is cheaper done by counts: one multinomial draw of how many items of each kind a replicate holds,
    instead of ``n_items`` indices. Resampling with replacement gives each replicate multinomial
    counts of the kinds, so both ways draw from the same distribution (not the same numbers). Typical
    of 0/1 scores: 2 kinds among thousands of items."""
    return n_distinct * 8 <= n_items


def drawn_counts(rng: np.random.Generator, counts: np.ndarray, n_resamples: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Resampling items of m kinds (``counts``: items of each kind, shape ``(m,)``) by counts: for
    each block of replicates, its slice of ``range(n_resamples)`` and how many items of each kind
    each replicate drew, shape ``(block, m)`` (one multinomial draw a replicate). Blocks bound memory."""
    n = int(counts.sum())
    rows = max(1, _BLOCK_ELEMENTS // counts.size)
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        yield slice(start, start + size), rng.multinomial(n, counts / n, size=size)


def percentile_interval(replicates: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided percentile interval of bootstrap ``replicates`` (shape ``(n_resamples,)``): the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles; ``(nan, nan)`` for none.

    Every bootstrap interval of the project (accuracies here, paired deltas and TI in
    :mod:`transferlab.transfer.stats`) is read off its replicates by this function."""
    values = np.asarray(replicates, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def estimate(
    scores_by_item: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """avg@k with a bootstrap CI over items."""
    means = item_means(scores_by_item)
    low, high = bootstrap_ci(means, confidence=confidence, n_resamples=n_resamples, seed=seed)
    n_samples = sum(len(v) for v in scores_by_item.values())
    value = float(means.mean()) if means.size else float("nan")
    return Estimate(value, low, high, int(means.size), n_samples)
