"""Paired statistics over items: deltas with bootstrap CIs, a sign-flip test, and CIs for TI.

Inputs are per-item scores: a mapping ``item_id -> sequence of per-sample scores in [0, 1]`` (k
samples per item; k may differ between items and between base and tuned). An item's score is the
mean of its samples. Outputs are in percent (scores) and percentage points (deltas), the units of
:mod:`transferlab.transfer.ti`.

Pairing: only items present for both models are used, and every bootstrap replicate draws the
same item indices for base and tuned, so item difficulty cancels out of the delta. With several
samples per item, a second level resamples each drawn item's samples (separately for base and
tuned: their samples are not paired). This two-level bootstrap is slightly conservative: the item
level already carries the within-item noise; pass ``resample_samples=False`` to drop the second
level. Every function is deterministic for a seed; replicates are vectorised with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from transferlab.errors import ConfigError, DataError
from transferlab.groups import GROUPS, Group
from transferlab.metrics import percentile_interval
from transferlab.options import TIVersion
from transferlab.transfer.resample import CHUNK_ELEMENTS, ScoresByItem, align, replicates
from transferlab.transfer.sigma import DEFAULT_DDOF
from transferlab.transfer.ti import (
    GROUP_INDEX,
    MATH,
    STATUS_UNDEFINED,
    TRANSFER_GROUPS,
    TransferIndex,
    group_gains,
    ti_from_gains,
    transfer_index,
    with_math_gain_ci,
)


@dataclass(frozen=True)
class PairedDelta:
    """``tuned - base`` in points with a bootstrap CI; ``base``/``tuned`` in percent."""

    base: float
    tuned: float
    delta: float
    low: float
    high: float
    confidence: float
    n_items: int
    n_only_base: int
    n_only_tuned: int
    paired: bool
    n_resamples: int


@dataclass(frozen=True)
class PairedTest:
    """Two-sided sign-flip (paired permutation) test of the mean per-item difference.

    ``statistic``: mean of ``tuned - base`` per item, in points; ``exact`` when all ``2**n_nonzero``
    sign patterns were enumerated, else ``n_permutations`` Monte Carlo draws with p = (1 + hits) /
    (1 + draws).
    """

    statistic: float
    p_value: float
    n_items: int
    n_nonzero: int
    exact: bool
    n_permutations: int


@dataclass(frozen=True)
class TIBootstrap:
    """Bootstrap CIs for a TI. Intervals are ``(low, high)``; ``None`` when undefined.

    ``group_delta``/``group_delta_ci``: the mean delta (points) over each group's benchmarks with its
    CI from the same replicates. ``share_math_near_zero``: share of replicates whose math gain was below ``min_math_gain`` (these
    are left out of the TI intervals). ``point`` is judged by the one rule with ``math_gain_ci``
    (:func:`~transferlab.transfer.ti.with_math_gain_ci`): when the point math gain is ≈ 0 or its CI
    contains 0, its TIs are ``None``, its status (and ``status``, the same) is
    :data:`~transferlab.transfer.ti.STATUS_UNDEFINED`, and the TI intervals are ``None``.
    """

    point: TransferIndex
    ti_ci: dict[Group, tuple[float, float] | None]
    group_gain_ci: dict[Group, tuple[float, float] | None]
    math_gain_ci: tuple[float, float]
    benchmark_delta_ci: dict[str, tuple[float, float]]
    share_math_near_zero: float
    status: str
    confidence: float
    n_resamples: int
    sigma_resampled: bool
    group_delta: dict[Group, float] | None = None
    group_delta_ci: dict[Group, tuple[float, float]] | None = None


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the finite replicates (a replicate whose TI is undefined is NaN)."""
    return percentile_interval(values[np.isfinite(values)], confidence)


def paired_bootstrap_delta(
    base_scores_by_item: ScoresByItem,
    tuned_scores_by_item: ScoresByItem,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    paired: bool = True,
    resample_samples: bool = True,
) -> PairedDelta:
    """Delta ``tuned - base`` (points) over the items both have, with a percentile bootstrap CI.

    Items are resampled jointly for base and tuned (``paired=False`` resamples them independently,
    for comparison only); samples within an item are resampled too unless ``resample_samples`` is
    False. Raises :class:`DataError` when no item is shared; warns when only some are.
    """
    base, tuned, only_b, only_t = align(base_scores_by_item, tuned_scores_by_item)
    rng = np.random.default_rng(seed)
    rep_b, rep_t = replicates(base, tuned, n_resamples, rng, paired=paired, resample_samples=resample_samples)
    low, high = _interval(100.0 * (rep_t - rep_b), confidence)
    b, t = 100.0 * base.item_means.mean(), 100.0 * tuned.item_means.mean()
    return PairedDelta(
        float(b),
        float(t),
        float(t - b),
        low,
        high,
        confidence,
        int(base.counts.size),
        only_b,
        only_t,
        paired,
        n_resamples,
    )


def paired_permutation_test(
    base_scores_by_item: ScoresByItem,
    tuned_scores_by_item: ScoresByItem,
    *,
    n_permutations: int = 10_000,
    seed: int = 0,
    exact_max_items: int = 16,
) -> PairedTest:
    """Two-sided paired sign-flip test of H0 "tuned and base score alike on each item".

    The per-item differences (item means, points) get random signs; the p-value is the share of
    sign patterns whose |mean| reaches the observed |mean|. Items with a zero difference carry no
    information and are dropped from the flipping; exact enumeration when at most
    ``exact_max_items`` differences are non-zero, otherwise Monte Carlo with ``seed``.
    """
    base, tuned, _, _ = align(base_scores_by_item, tuned_scores_by_item)
    diff = 100.0 * (tuned.item_means - base.item_means)
    n = diff.size
    observed = float(diff.mean())
    nonzero = diff[diff != 0.0]
    m = nonzero.size
    if m == 0:
        return PairedTest(observed, 1.0, n, 0, True, 1)
    target = abs(nonzero.sum()) * (1 - 1e-12) - 1e-12
    if m <= exact_max_items:
        codes = np.arange(2**m, dtype=np.int64)[:, None]
        signs = 1 - 2 * ((codes >> np.arange(m)) & 1)
        hits = int((np.abs(signs @ nonzero) >= target).sum())
        return PairedTest(observed, hits / 2**m, n, m, True, 2**m)
    rng = np.random.default_rng(seed)
    hits = 0
    rows = max(1, CHUNK_ELEMENTS // m)
    for start in range(0, n_permutations, rows):
        size = min(rows, n_permutations - start)
        signs = rng.integers(0, 2, size=(size, m), dtype=np.int8) * 2 - 1
        hits += int((np.abs(signs @ nonzero) >= target).sum())
    return PairedTest(observed, (1 + hits) / (1 + n_permutations), n, m, False, n_permutations)


def ti_bootstrap(
    base_items: Mapping[str, ScoresByItem],
    tuned_items: Mapping[str, ScoresByItem],
    groups: Mapping[str, Group] | None = None,
    *,
    version: TIVersion = "v2",
    sigma: Mapping[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    resample_sigma: bool = False,
    min_math_gain: float | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    resample_samples: bool = True,
) -> TIBootstrap:
    """CIs for each TI_g by resampling items within every benchmark, jointly for base and tuned.

    ``base_items``/``tuned_items``: benchmark -> item -> per-sample scores. Each replicate recomputes
    the benchmark scores and then TI with the same arithmetic as :func:`transfer_index`. σ (v2) is
    held at its point value: it is a study constant, estimated from a population of pairs whose
    items are not all here. With ``sigma=None`` it comes from this pair's deltas (one σ for every
    group, :func:`~transferlab.transfer.sigma.one_pair_sigma`); ``resample_sigma=True`` then
    recomputes it from each replicate's deltas (not allowed with an explicit ``sigma``; it moves DI,
    not TI, which a shared σ leaves unchanged). Replicates whose math gain is below ``min_math_gain`` are counted in
    ``share_math_near_zero`` and left out of the TI intervals.
    """
    if set(base_items) != set(tuned_items):
        raise DataError(
            f"base and tuned cover different benchmarks: {sorted(set(base_items) ^ set(tuned_items))}",
            "compare the benchmarks both models have",
        )
    if resample_sigma and (sigma is not None or version != "v2"):
        raise ConfigError(
            "resample_sigma needs v2 with σ from this pair's own deltas",
            "drop sigma (or resample_sigma) — an explicit σ comes from items that are not here",
        )
    names = sorted(base_items)
    base_point, tuned_point, base_rep, tuned_rep = _benchmark_replicates(base_items, tuned_items, names, n_resamples, seed, resample_samples)
    point = transfer_index(
        base_point,
        tuned_point,
        groups,
        version=version,
        sigma=sigma,
        ddof=ddof,
        min_math_gain=min_math_gain,
    )
    order = [names.index(row.benchmark) for row in point.benchmarks]
    base_rep, tuned_rep = base_rep[:, order], tuned_rep[:, order]
    group_idx = np.array([GROUP_INDEX[row.group] for row in point.benchmarks])
    sigma_rep = None
    if version == "v2":
        assert point.sigma is not None
        sigma_rep = np.array([point.sigma.get(g, np.nan) for g in GROUPS])
        if resample_sigma:
            sigma_rep = _replicate_sigma(tuned_rep - base_rep, ddof)
    gains = group_gains(version, base_rep, tuned_rep, group_idx, sigma_rep)
    ti = ti_from_gains(gains, point.min_math_gain)
    return _summarise(point, gains, ti, tuned_rep - base_rep, confidence, n_resamples, resample_sigma)


def _benchmark_replicates(
    base_items: Mapping[str, ScoresByItem],
    tuned_items: Mapping[str, ScoresByItem],
    names: list[str],
    n_resamples: int,
    seed: int,
    resample_samples: bool,
) -> tuple[dict[str, float], dict[str, float], np.ndarray, np.ndarray]:
    """Point scores (percent) per benchmark and replicate scores, shape ``(R, B)`` in ``names``
    order; each benchmark gets its own child seed of ``seed``."""
    seeds = np.random.SeedSequence(seed).spawn(len(names))
    base_rep = np.empty((n_resamples, len(names)))
    tuned_rep = np.empty((n_resamples, len(names)))
    base_point: dict[str, float] = {}
    tuned_point: dict[str, float] = {}
    for j, name in enumerate(names):
        b, t, _, _ = align(base_items[name], tuned_items[name], label=name)
        base_point[name] = 100.0 * float(b.item_means.mean())
        tuned_point[name] = 100.0 * float(t.item_means.mean())
        rng = np.random.default_rng(seeds[j])
        rb, rt = replicates(b, t, n_resamples, rng, resample_samples=resample_samples)
        base_rep[:, j], tuned_rep[:, j] = 100.0 * rb, 100.0 * rt
    return base_point, tuned_point, base_rep, tuned_rep


def _replicate_sigma(deltas: np.ndarray, ddof: int) -> np.ndarray:
    """The one-pair σ of each replicate (the spread of all its deltas, the same for every group),
    shape ``(R, 3)``; NaN where undefined."""
    pooled = np.std(deltas, axis=1, ddof=ddof) if deltas.shape[1] > ddof else np.full(deltas.shape[0], np.nan)
    out = np.repeat(pooled[:, None], len(GROUPS), axis=1)
    out[~(out > 0)] = np.nan
    return out


def _summarise(
    point: TransferIndex,
    gains: np.ndarray,
    ti: np.ndarray,
    deltas: np.ndarray,
    confidence: float,
    n_resamples: int,
    sigma_resampled: bool,
) -> TIBootstrap:
    math_gains = gains[:, MATH]
    near_zero = ~(np.abs(np.nan_to_num(math_gains, nan=0.0)) >= point.min_math_gain)
    math_ci = _interval(math_gains, confidence)
    point = with_math_gain_ci(point, math_ci, confidence=confidence)
    undefined = point.status == STATUS_UNDEFINED

    def ci(values: np.ndarray) -> tuple[float, float] | None:
        low, high = _interval(values, confidence)
        return None if math.isnan(low) else (low, high)

    groups = [row.group for row in point.benchmarks]
    present = [g for g in GROUPS if g in groups]
    masks = {g: np.array([x == g for x in groups]) for g in present}
    point_deltas = np.array([row.delta for row in point.benchmarks])

    return TIBootstrap(
        point=point,
        ti_ci={g: None if undefined else ci(ti[:, GROUP_INDEX[g]]) for g in TRANSFER_GROUPS},
        group_gain_ci={g: ci(gains[:, GROUP_INDEX[g]]) for g in GROUPS},
        math_gain_ci=math_ci,
        benchmark_delta_ci={row.benchmark: _interval(deltas[:, j], confidence) for j, row in enumerate(point.benchmarks)},
        share_math_near_zero=float(near_zero.mean()),
        status=point.status,
        confidence=confidence,
        n_resamples=n_resamples,
        sigma_resampled=sigma_resampled,
        group_delta={g: float(point_deltas[masks[g]].mean()) for g in present},
        group_delta_ci={g: _interval(deltas[:, masks[g]].mean(axis=1), confidence) for g in present},
    )


def group_accuracy(
    cells_items: Mapping[str, Mapping[str, Sequence[float]]], *, n_resamples: int, seed: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """A group's accuracy (mean over its benchmarks of the mean item score, percent) with a
    percentile-bootstrap CI from resampling items within each benchmark. ``cells_items``:
    benchmark -> item -> sample scores in [0, 1]."""
    rng = np.random.default_rng(seed)
    means = [np.array([np.mean(v) for _, v in sorted(items.items())]) for _, items in sorted(cells_items.items())]
    point = float(np.mean([m.mean() for m in means]))
    reps = np.zeros(n_resamples)
    for m in means:
        reps += m[rng.integers(0, len(m), size=(n_resamples, len(m)))].mean(axis=1)
    reps /= len(means)
    low, high = percentile_interval(reps, confidence)
    return 100 * point, 100 * low, 100 * high
