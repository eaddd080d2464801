"""Seeds: how far apart repeated trainings land, beside the bootstrap over items.

A training repeated with ``S`` seeds gives ``S`` tuned models, each scored on the same ``N`` items
of a benchmark: items are *crossed* with seeds. Two sources of uncertainty then sit in every
number: which items were drawn (the bootstrap over items of :mod:`transferlab.transfer.stats`), and
which seed the training happened to get (the between-seed spread, which no item bootstrap sees).

:func:`hierarchical_means` resamples both, vectorised: each replicate draws ``S`` seeds with
replacement, then ``N`` items, and averages. By default one item draw is shared by the drawn seeds
(``shared_items=True``): every seed answered the same items, so an item that is hard is hard for
each of them, and drawing items independently per seed (``shared_items=False``, the nested
two-stage bootstrap of multi-level data) would average that item effect away and understate the
item part of the variance by a factor of about ``S``. With ``resample_seeds=False`` the seeds stay
fixed and only items are resampled: the items-only interval of the seed mean, shown beside.

:func:`seed_group_transfer` applies it to a seed group against its base: per-benchmark and
per-group deltas (points) and TI, each with the between-seed standard deviation, the items-only
interval and the hierarchical interval. The base is one model (no seeds); its items are drawn with
the same indices as the tuned models', so every delta stays paired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from transferlab.errors import DataError
from transferlab.groups import GROUPS, Group
from transferlab.metrics import percentile_interval
from transferlab.options import TIVersion
from transferlab.transfer.resample import CHUNK_ELEMENTS, ScoresByItem
from transferlab.transfer.stats import TIBootstrap, _summarise
from transferlab.transfer.ti import GROUP_INDEX, TRANSFER_GROUPS, group_gains, ti_from_gains, transfer_index

__all__ = ["SeedGroupTransfer", "SeedSpread", "draw_seeds", "hierarchical_bootstrap", "hierarchical_means", "seed_group_transfer"]


def draw_seeds(n_seeds: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Seed indices of each replicate, shape ``(n_resamples, n_seeds)``, drawn with replacement."""
    return rng.integers(0, n_seeds, size=(n_resamples, n_seeds))


def hierarchical_means(
    values: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    seed_idx: np.ndarray | None = None,
    resample_seeds: bool = True,
    shared_items: bool = True,
) -> np.ndarray:
    """Replicate grand means of per-(seed, item) ``values`` under the hierarchical bootstrap.

    Args:
        values: shape ``(S, N)`` (S seeds, N items, any unit), or ``(M, S, N)``: M quantities that
            share every draw (e.g. base and tuned scores, so that their difference stays paired).
        n_resamples: R, the number of replicates.
        rng: the generator the item draws (and the seed draws, unless given) come from.
        seed_idx: shape ``(R, S)``: the seeds of each replicate, when several benchmarks must share
            them (a seed is a whole trained model); drawn here when None.
        resample_seeds: False keeps every seed once (the items-only bootstrap of the seed mean).
        shared_items: one item draw per replicate for all its seeds (crossed design, the default);
            False draws items independently for each drawn seed (nested design).

    Returns:
        shape ``(R,)`` for 2-D ``values``, ``(R, M)`` for 3-D, in the unit of ``values``: the mean
        over the drawn seeds of the mean over the drawn items.
    """
    stack = np.asarray(values, dtype=float)
    squeeze = stack.ndim == 2
    if squeeze:
        stack = stack[None]
    if stack.ndim != 3 or stack.shape[1] == 0 or stack.shape[2] == 0:
        raise DataError(f"values must have shape (S, N) or (M, S, N) with S, N >= 1, got {np.shape(values)}", "pass per-(seed, item) scores")
    m, s, n = stack.shape
    if seed_idx is None:
        seed_idx = draw_seeds(s, n_resamples, rng) if resample_seeds else np.broadcast_to(np.arange(s), (n_resamples, s))
    if seed_idx.shape != (n_resamples, s):
        raise DataError(f"seed_idx has shape {seed_idx.shape}, expected {(n_resamples, s)}", "draw it with draw_seeds(S, R, rng)")
    out = np.empty((n_resamples, m))
    rows = max(1, CHUNK_ELEMENTS // (m * s * n))
    for start in range(0, n_resamples, rows):
        chunk = seed_idx[start : start + rows]
        size = chunk.shape[0]
        items = rng.integers(0, n, size=(size, 1, n) if shared_items else (size, s, n))
        picked = stack[:, chunk[:, :, None], items]  # (M, size, S, N)
        out[start : start + size] = picked.mean(axis=(2, 3)).T
    return out[:, 0] if squeeze else out


@dataclass(frozen=True)
class SeedSpread:
    """A seed mean with its spreads, in the unit of the input.

    ``per_seed``: each seed's mean over items; ``between_seed_sd``: their standard deviation
    (ddof 1; NaN for one seed); ``items_ci``: the percentile interval with the seeds fixed and items
    resampled; ``hierarchical_ci``: seeds then items resampled (:func:`hierarchical_means`).
    """

    mean: float
    per_seed: tuple[float, ...]
    between_seed_sd: float
    items_ci: tuple[float, float]
    hierarchical_ci: tuple[float, float]
    n_seeds: int
    n_items: int
    confidence: float
    n_resamples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        return {
            "mean": _clean(self.mean),
            "per_seed": [_clean(v) for v in self.per_seed],
            "between_seed_sd": _clean(self.between_seed_sd),
            "items_ci": [_clean(v) for v in self.items_ci],
            "hierarchical_ci": [_clean(v) for v in self.hierarchical_ci],
            "n_seeds": self.n_seeds,
            "n_items": self.n_items,
        }


def _clean(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _sd(values: Sequence[float]) -> float:
    finite = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    return float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")


def hierarchical_bootstrap(values: np.ndarray, *, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95, shared_items: bool = True) -> SeedSpread:
    """The seed mean of ``values`` (shape ``(S, N)``: S seeds, N items, any unit) with the
    between-seed standard deviation, the items-only interval and the hierarchical interval."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise DataError(f"values must have shape (S, N), got {x.shape}", "one row per seed, one column per item")
    hier_rng, items_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    hier = hierarchical_means(x, n_resamples, hier_rng, shared_items=shared_items)
    items = hierarchical_means(x, n_resamples, items_rng, resample_seeds=False)
    per_seed = tuple(float(v) for v in x.mean(axis=1))
    return SeedSpread(
        float(x.mean()),
        per_seed,
        _sd(per_seed),
        percentile_interval(items, confidence),
        percentile_interval(hier, confidence),
        x.shape[0],
        x.shape[1],
        confidence,
        n_resamples,
    )


@dataclass(frozen=True)
class SeedGroupTransfer:
    """A seed group against its base: deltas (points) and TI, each with both spreads.

    ``benchmark_delta`` and ``group_delta``: :class:`SeedSpread` of ``tuned - base`` in points;
    ``ti``: per transfer group, the TI of the seed-mean scores (``mean``, percent; None where
    undefined), each seed's own TI (``per_seed``) and their SD, and both intervals (None where the
    math gain's interval of that bootstrap contains 0, the rule of
    :func:`~transferlab.transfer.stats.ti_bootstrap`); ``status``: the hierarchical bootstrap's.
    """

    seeds: tuple[str, ...]
    version: TIVersion
    benchmark_delta: dict[str, SeedSpread]
    group_delta: dict[Group, SeedSpread]
    ti: dict[Group, dict[str, Any]]
    status: str
    items_status: str
    math_gain_ci: tuple[float, float]
    n_items: dict[str, int]
    confidence: float
    n_resamples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "seeds": list(self.seeds),
            "version": self.version,
            "benchmark_delta": {b: s.to_dict() for b, s in self.benchmark_delta.items()},
            "group_delta": {g: s.to_dict() for g, s in self.group_delta.items()},
            "ti": self.ti,
            "status": self.status,
            "items_status": self.items_status,
            "math_gain_ci": [_clean(v) for v in self.math_gain_ci],
            "n_items": dict(self.n_items),
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
        }


def _matrices(base: Mapping[str, ScoresByItem], tuned: Sequence[Mapping[str, ScoresByItem]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per benchmark: base item means ``(N,)`` and tuned item means ``(S, N)`` (fractions), over
    the items the base and every seed share, in sorted item order."""
    out = {}
    for name in sorted(base):
        if any(name not in t for t in tuned):
            continue
        common = sorted(set(base[name]).intersection(*(set(t[name]) for t in tuned)))
        if not common:
            raise DataError(f"{name}: the base and the seeds share no item", "score every seed on the same items")
        b = np.array([np.mean(base[name][i]) for i in common])
        t = np.array([[np.mean(s[name][i]) for i in common] for s in tuned])
        out[name] = (b, t)
    if not out:
        raise DataError("no benchmark is scored for the base and every seed", "evaluate every seed model on the study's benchmarks")
    return out


def seed_group_transfer(
    base: Mapping[str, ScoresByItem],
    tuned: Mapping[str, Mapping[str, ScoresByItem]],
    groups: Mapping[str, Group] | None = None,
    *,
    version: TIVersion = "v2",
    sigma: Mapping[Group, float] | None = None,
    min_math_gain: float | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    shared_items: bool = True,
) -> SeedGroupTransfer:
    """Deltas and TI of a seed group against its base, with the between-seed SD, the items-only
    interval and the hierarchical interval (seeds, then items).

    ``base``: benchmark -> item -> sample scores in [0, 1]; ``tuned``: seed name -> the same, one
    entry per seed of the training. An item's score is the mean of its samples. σ (v2) is a study
    constant (the study's population), held fixed as in :func:`~transferlab.transfer.stats.ti_bootstrap`.
    """
    names = tuple(tuned)
    mats = _matrices(base, [tuned[s] for s in names])
    base_point = {b: 100.0 * float(m[0].mean()) for b, m in mats.items()}
    tuned_point = {b: 100.0 * float(m[1].mean()) for b, m in mats.items()}
    point = transfer_index(base_point, tuned_point, groups, version=version, sigma=sigma, min_math_gain=min_math_gain)
    rows = point.benchmarks
    group_idx = np.array([GROUP_INDEX[r.group] for r in rows])
    sigma_arr = np.array([point.sigma.get(g, np.nan) for g in GROUPS]) if point.sigma is not None else None
    seed_rng, *bench_rngs = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(1 + 2 * len(rows)))
    seed_idx = draw_seeds(len(names), n_resamples, seed_rng)
    boots: dict[str, TIBootstrap] = {}
    for label, resample in (("hierarchical", True), ("items", False)):
        reps = np.empty((n_resamples, 2, len(rows)))
        for j, r in enumerate(rows):
            b, t = mats[r.benchmark]
            stacked = np.stack([np.broadcast_to(b, t.shape), t])
            rng = bench_rngs[2 * j + (0 if resample else 1)]
            idx = seed_idx if resample else None
            reps[:, :, j] = 100.0 * hierarchical_means(stacked, n_resamples, rng, seed_idx=idx, resample_seeds=resample, shared_items=shared_items)
        gains = group_gains(version, reps[:, 0], reps[:, 1], group_idx, sigma_arr)
        ti = ti_from_gains(gains, point.min_math_gain)
        boots[label] = _summarise(point, gains, ti, reps[:, 1] - reps[:, 0], confidence, n_resamples, False)
    per_seed = [
        transfer_index(base_point, {b: 100.0 * float(mats[b][1][k].mean()) for b in mats}, groups, version=version, sigma=sigma, min_math_gain=min_math_gain)
        for k in range(len(names))
    ]
    hier, items = boots["hierarchical"], boots["items"]
    deltas = {r.benchmark: 100.0 * (mats[r.benchmark][1] - mats[r.benchmark][0]) for r in rows}
    benchmark_delta = {
        b: _spread(d.mean(axis=1), items.benchmark_delta_ci[b], hier.benchmark_delta_ci[b], d.shape[1], confidence, n_resamples) for b, d in deltas.items()
    }
    group_delta = {}
    for g in GROUPS:
        members = [r.benchmark for r in rows if r.group == g]
        if members and hier.group_delta_ci is not None and items.group_delta_ci is not None:
            per = np.mean([deltas[b].mean(axis=1) for b in members], axis=0)
            group_delta[g] = _spread(per, items.group_delta_ci[g], hier.group_delta_ci[g], sum(deltas[b].shape[1] for b in members), confidence, n_resamples)
    ti_out = {
        g: {
            "mean": hier.point.ti.get(g),
            "per_seed": [p.ti.get(g) for p in per_seed],
            "between_seed_sd": _clean(_sd([v for v in (p.ti.get(g) for p in per_seed) if v is not None])),
            "items_ci": _ci(items.ti_ci.get(g)),
            "hierarchical_ci": _ci(hier.ti_ci.get(g)),
        }
        for g in TRANSFER_GROUPS
    }
    return SeedGroupTransfer(
        names,
        version,
        benchmark_delta,
        group_delta,
        ti_out,
        hier.status,
        items.status,
        hier.math_gain_ci,
        {b: int(m[0].size) for b, m in mats.items()},
        confidence,
        n_resamples,
    )


def _ci(pair: tuple[float, float] | None) -> list[float | None] | None:
    return None if pair is None else [_clean(pair[0]), _clean(pair[1])]


def _spread(per_seed: np.ndarray, items_ci: tuple[float, float], hier_ci: tuple[float, float], n_items: int, confidence: float, n_resamples: int) -> SeedSpread:
    values = tuple(float(v) for v in per_seed)
    return SeedSpread(float(np.mean(values)), values, _sd(values), items_ci, hier_ci, len(values), n_items, confidence, n_resamples)
