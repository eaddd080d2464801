"""A rank correlation with a bootstrap interval: does drift predict transfer?

The paper reads its drift measures (PCA shift, token KL) as the reason some models transfer and
others forget. Across the checkpoints of one or more trainings that is a testable claim: the
Spearman correlation between a drift measure and TI_non (or Δ_non), with a percentile bootstrap
interval over the points. Spearman, because drift and TI need not be linearly related and a
monotone relation is the claim; ties get average ranks (bootstrap replicates repeat points, so
ties are the rule there).

With ``strata`` (e.g. the training method of each checkpoint) each replicate resamples within
every stratum, so each keeps as many SFT as GRPO points as the data. Checkpoints of one training
are not independent draws: the interval treats them as exchangeable and is, if anything, too
narrow; the docs (docs/dynamics.md) say so beside every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from transferlab.errors import DataError, missing_extra
from transferlab.metrics import percentile_interval

__all__ = ["RankCorrelation", "spearman", "spearman_bootstrap", "spearman_rows"]


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's ρ of ``n`` points with its percentile bootstrap interval.

    ``n_degenerate``: replicates in which x or y was constant (ρ undefined), left out of the interval.
    """

    rho: float
    low: float
    high: float
    n: int
    confidence: float
    n_resamples: int
    n_degenerate: int
    stratified: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def _ranks(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.stats import rankdata
    except ImportError as err:  # pragma: no cover - scipy comes with the analysis extra
        raise missing_extra("scipy", "analysis") from err
    ranks: np.ndarray = rankdata(x, axis=-1)
    return ranks


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row: ``x``, ``y`` shape ``(R, n)`` -> ``(R,)``; NaN where a row of x or
    y is constant. Average ranks for ties, then Pearson's r of the ranks."""
    rx, ry = _ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float))
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    norm = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    rho: np.ndarray = np.divide((rx * ry).sum(axis=-1), norm, out=np.full(norm.shape, np.nan), where=norm > 0)
    return rho


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's ρ of paired values (NaN when x or y is constant)."""
    return float(spearman_rows(np.asarray(x, dtype=float)[None], np.asarray(y, dtype=float)[None])[0])


def _check(x: np.ndarray, y: np.ndarray, strata: np.ndarray | None) -> None:
    if x.ndim != 1 or x.shape != y.shape:
        raise DataError(f"x and y must be paired 1-D sequences, got shapes {x.shape} and {y.shape}", "give one x and one y per point")
    if x.size < 3:
        raise DataError(f"a rank correlation needs at least 3 points, got {x.size}", "add checkpoints")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError("x and y must be finite", "drop the points whose value is undefined first")
    if strata is not None and strata.shape != x.shape:
        raise DataError(f"strata has {strata.size} labels for {x.size} points", "give one stratum per point")


def _draw(n: int, strata: np.ndarray | None, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Point indices of each replicate, shape ``(R, n)``: with replacement, within each stratum."""
    if strata is None:
        return rng.integers(0, n, size=(n_resamples, n))
    parts = []
    for label in np.unique(strata):
        members = np.flatnonzero(strata == label)
        parts.append(members[rng.integers(0, members.size, size=(n_resamples, members.size))])
    return np.concatenate(parts, axis=1)


def spearman_bootstrap(
    x: Sequence[float],
    y: Sequence[float],
    *,
    strata: Sequence[str] | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> RankCorrelation:
    """Spearman's ρ of ``(x, y)`` (shape ``(n,)`` each) with a percentile bootstrap interval over
    the points (resampled within each stratum when ``strata`` is given); vectorised."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    labels = None if strata is None else np.asarray(list(strata), dtype=object)
    _check(xs, ys, labels)
    idx = _draw(xs.size, labels, n_resamples, np.random.default_rng(seed))
    reps = spearman_rows(xs[idx], ys[idx])
    finite = reps[np.isfinite(reps)]
    low, high = percentile_interval(finite, confidence)
    return RankCorrelation(spearman(xs, ys), low, high, int(xs.size), confidence, n_resamples, int(reps.size - finite.size), labels is not None)
