"""When does a group fall below the base? The tests along a training trajectory, as pure functions.

At every checkpoint of a training, each group (math, other, non) is compared with the base by the
paired sign-flip test of :func:`~transferlab.transfer.stats.paired_permutation_test`, run on the
group's items pooled over its benchmarks (:func:`pooled_items`: each item's tuned - base
difference, every item weighted alike). The checkpoints of one training on one group form one
family of tests; Holm's step-down correction (:func:`holm`) holds the chance of any false "fell
below" in that family at ``alpha``. :func:`first_significant_drop` is the first step, in training
order, whose corrected p-value is below ``alpha`` with a negative delta.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["first_significant_drop", "holm", "pooled_items"]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, shape ``(m,)`` in the input order (monotone, at most 1).

    The i-th smallest p-value is multiplied by ``m - i`` (i from 0), a running maximum keeps the
    order, and values are clipped at 1; rejecting every hypothesis whose adjusted p-value is below
    ``alpha`` controls the family-wise error rate at ``alpha``. NaN p-values stay NaN and do not
    count towards ``m``.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def first_significant_drop(steps: Sequence[int], deltas: Sequence[float], adjusted_p: Sequence[float] | np.ndarray, alpha: float = 0.05) -> int | None:
    """The first step (smallest, in training order) whose delta is negative and whose adjusted
    p-value is below ``alpha``; None when no step qualifies. All three sequences are paired."""
    hits = [s for s, d, p in zip(steps, deltas, adjusted_p) if np.isfinite(p) and p < alpha and d < 0]
    return min(hits) if hits else None


def pooled_items(cells: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, Sequence[float]]:
    """A group's per-item samples over its benchmarks in one mapping, keyed ``benchmark/item``
    (the input of the paired tests for a whole group)."""
    return {f"{bench}/{item}": samples for bench, items in cells.items() for item, samples in items.items()}
