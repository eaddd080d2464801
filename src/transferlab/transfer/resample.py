"""Bootstrap replicates of per-item scores: the resampling behind every interval of
:mod:`transferlab.transfer.stats` (paired deltas, TI) and :mod:`transferlab.transfer.seeds`.

Items are resampled with replacement, the same indices for base and tuned when paired; with several
samples per item a second level resamples each drawn item's samples. Where the scores are 0/1 the
items fall into a few kinds, and a replicate draws how many items of each kind it holds (a
multinomial) and their correct samples (binomials) instead of every index: the same distribution,
far fewer draws (:func:`replicates_by_kind`). Memory is bounded by drawing in blocks.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from transferlab.errors import DataError
from transferlab.metrics import drawn_counts, few_distinct

ScoresByItem = Mapping[str, Sequence[float]]
CHUNK_ELEMENTS = 1 << 21  # bounds memory of one vectorised block (~16 MB of float64)


@dataclass(frozen=True)
class Items:
    """Per-item samples padded to ``(n_items, k_max)``, with the sample count of each item."""

    values: np.ndarray
    counts: np.ndarray

    @property
    def item_means(self) -> np.ndarray:
        means: np.ndarray = self.values.sum(axis=1) / self.counts
        return means


def pad(label: str, samples: list[Sequence[float]]) -> Items:
    counts = np.array([len(s) for s in samples], dtype=np.int64)
    if (counts == 0).any():
        raise DataError(f"{label}: an item has no samples", "drop it or score it first")
    values = np.zeros((len(samples), int(counts.max())))
    for i, s in enumerate(samples):
        values[i, : len(s)] = s
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise DataError(f"{label}: per-sample scores must lie in [0, 1]", "pass fractions, not percent")
    return Items(values, counts)


def align(base: ScoresByItem, tuned: ScoresByItem, label: str = "scores") -> tuple[Items, Items, int, int]:
    common = sorted(set(base) & set(tuned))
    only_base, only_tuned = len(set(base) - set(tuned)), len(set(tuned) - set(base))
    if not common:
        raise DataError(
            f"{label}: base and tuned share no item ({len(base)} vs {len(tuned)} items)",
            "score both models on the same items",
        )
    if only_base or only_tuned:
        warnings.warn(
            f"{label}: {only_base} item(s) only in base and {only_tuned} only in tuned are left out; {len(common)} paired items used",
            stacklevel=3,
        )
    b = pad(f"{label} (base)", [base[i] for i in common])
    t = pad(f"{label} (tuned)", [tuned[i] for i in common])
    return b, t, only_base, only_tuned


def _resampled_means(items: Items, idx: np.ndarray, rng: np.random.Generator, resample_samples: bool) -> np.ndarray:
    """Mean score (fraction) of each replicate, shape ``(r,)``; ``idx`` has shape ``(r, n)``."""
    if not resample_samples or int(items.counts.max()) == 1:
        means: np.ndarray = items.item_means[idx].mean(axis=1)
        return means
    k_max = items.values.shape[1]
    k = items.counts[idx][..., None]
    draw = (rng.random(idx.shape + (k_max,)) * k).astype(np.int64)
    picked = items.values[idx[..., None], draw]
    item_means = np.where(np.arange(k_max) < k, picked, 0.0).sum(axis=-1) / k[..., 0]
    replicate_means: np.ndarray = item_means.mean(axis=1)
    return replicate_means


def replicates(
    base: Items,
    tuned: Items,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    paired: bool = True,
    resample_samples: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Replicate mean scores (fractions) of base and tuned, each shape ``(n_resamples,)``.

    Replicates are drawn in blocks sized to bound memory (``CHUNK_ELEMENTS``), so a 30k-item
    benchmark with many samples per item never materialises all replicates at once. Where the items
    fall into few kinds (0/1 samples), each replicate's counts of the kinds are drawn instead
    (:func:`replicates_by_kind`): the same distribution, far fewer draws.
    """
    by_kind = replicates_by_kind(base, tuned, n_resamples, rng, paired=paired, resample_samples=resample_samples)
    if by_kind is not None:
        return by_kind
    n = base.counts.size
    k_max = max(base.values.shape[1], tuned.values.shape[1]) if resample_samples else 1
    rows = max(1, CHUNK_ELEMENTS // (n * k_max))
    out_base, out_tuned = np.empty(n_resamples), np.empty(n_resamples)
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        idx_base = rng.integers(0, n, size=(size, n))
        idx_tuned = idx_base if paired else rng.integers(0, n, size=(size, n))
        out_base[start : start + size] = _resampled_means(base, idx_base, rng, resample_samples)
        out_tuned[start : start + size] = _resampled_means(tuned, idx_tuned, rng, resample_samples)
    return out_base, out_tuned


def kinds_of(items: Items, resample_samples: bool) -> np.ndarray | None:
    """What an item's resampled score depends on, shape ``(n_items, 2)``: ``(k, correct)`` where the
    second level resamples its k samples of 0/1 (the item's score is then Binomial(k, correct/k)/k),
    ``(0, mean)`` where its score is fixed (one level, or one sample per item). ``None`` where the
    second level would resample samples other than 0 and 1: those are drawn one by one."""
    if resample_samples and int(items.counts.max()) > 1:
        if not np.isin(items.values, (0.0, 1.0)).all():  # the padding is 0.0
            return None
        return np.column_stack([items.counts.astype(float), items.values.sum(axis=1)])
    return np.column_stack([np.zeros(items.counts.size), items.item_means])


def _kind_means(drawn: np.ndarray, kinds: np.ndarray, rng: np.random.Generator, n_items: int) -> np.ndarray:
    """Replicate mean scores (fractions), shape ``(r,)``, from ``drawn`` (shape ``(r, m)``: how many
    items of each of the m kinds a replicate drew) and the kinds (``(m, 2)``, as :func:`kinds_of`).
    Drawn items of one kind ``(k, c)`` score in all Binomial(drawn·k, c/k)/k: a sum of independent
    binomials with one success rate."""
    k, value = kinds[:, 0], kinds[:, 1]
    fixed = k == 0
    total: np.ndarray = drawn[:, fixed] @ value[fixed]
    if not fixed.all():
        samples = k[~fixed].astype(np.int64)
        total = total + (rng.binomial(drawn[:, ~fixed] * samples, value[~fixed] / samples) / samples).sum(axis=1)
    return total / n_items


def replicates_by_kind(
    base: Items, tuned: Items, n_resamples: int, rng: np.random.Generator, *, paired: bool, resample_samples: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`replicates` by counts of item kinds (:func:`kinds_of`; paired: kinds of (base, tuned)
    together, so one draw serves both); ``None`` where the items have too many kinds to gain."""
    kinds_b, kinds_t = kinds_of(base, resample_samples), kinds_of(tuned, resample_samples)
    if kinds_b is None or kinds_t is None:
        return None
    n = base.counts.size
    if paired:
        joint, counts = np.unique(np.hstack([kinds_b, kinds_t]), axis=0, return_counts=True)
        if not few_distinct(len(joint), n):
            return None
        out_b, out_t = np.empty(n_resamples), np.empty(n_resamples)
        for block, drawn in drawn_counts(rng, counts, n_resamples):
            out_b[block] = _kind_means(drawn, joint[:, :2], rng, n)
            out_t[block] = _kind_means(drawn, joint[:, 2:], rng, n)
        return out_b, out_t
    apart = [np.unique(kinds, axis=0, return_counts=True) for kinds in (kinds_b, kinds_t)]
    if not all(few_distinct(len(kinds), n) for kinds, _ in apart):
        return None
    out = []
    for kinds, counts in apart:
        means = np.empty(n_resamples)
        for block, drawn in drawn_counts(rng, counts, n_resamples):
            means[block] = _kind_means(drawn, kinds, rng, n)
        out.append(means)
    return out[0], out[1]
