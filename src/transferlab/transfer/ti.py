"""The Transferability Index (PAPER.md section 2): does a math gain carry over to other groups?

Both published versions, as pure functions. Scores are accuracies in percent (0-100), one per
benchmark; each benchmark belongs to a group ("math", "other", "non").

- **v1** (July 2025): per benchmark the relative gain ``(R_tuned - R_base) / R_base`` (a fraction);
  ``ΔR_g`` is its mean over group g; ``TI_g = 100 · ΔR_g / ΔR_math``. A benchmark whose base score
  is 0 has no relative gain: it is left out of its group's mean and named in ``notes``.
- **v2** (October 2025, the default): ``Δ_b`` in points; ``δ_b = Δ_b / σ_g``; ``s_b = sign(δ_b) ·
  sqrt(|δ_b|)``; headroom weights ``w_b = 100 - R_base,b`` normalised within the group (equal
  weights if the whole group sits at 100); ``DI_g = Σ ŵ_b s_b``; ``TI_g = 100 · DI_g / DI_math``.

σ_g is one constant per group for a whole study: the standard deviation of the deltas (points) of
group g over a population of (tuned, base) pairs, with ``ddof=1`` by default. Why 1: the pairs of a
study are a sample of the tuned models one could have compared, and a study often has only a few
deltas per group, where the unbiased variance matters (the paper does not publish its choice).
Note that ``DI_g`` scales as ``σ_g^-1/2``, so TI depends on σ only through ``σ_math / σ_g``; when
every group has the same number of deltas in the population, ddof cancels out of TI exactly (it
still changes DI).

When the math gain is too small, the ratio means nothing: if ``|ΔR_math|`` (v1) or ``|DI_math|``
(v2) is below ``min_math_gain`` (defaults :data:`DEFAULT_MIN_MATH_GAIN`: a 2 % mean relative gain
for v1; 0.25 for v2, which is a uniform math gain of σ_math/16), TI is ``None`` and the status
is :data:`STATUS_UNDEFINED`. With item-level scores, :func:`transferlab.transfer.stats.ti_bootstrap` adds
the second rule: the math gain's confidence interval must exclude 0.

The array functions (:func:`group_gains`, :func:`ti_from_gains`) take a leading replicate axis, so
the bootstrap reuses exactly the arithmetic of the point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from transferlab.errors import ConfigError, DataError
from transferlab.groups import BENCHMARK_GROUPS, GROUPS, Group
from transferlab.options import TI_VERSIONS, TIVersion

TRANSFER_GROUPS: Final[tuple[Group, ...]] = ("other", "non")
GROUP_INDEX: Final[dict[Group, int]] = {g: i for i, g in enumerate(GROUPS)}
MATH: Final[int] = GROUP_INDEX["math"]

DEFAULT_DDOF: Final[int] = 1
DEFAULT_MIN_MATH_GAIN: Final[dict[str, float]] = {"v1": 0.02, "v2": 0.25}
STATUS_OK: Final[str] = "ok"
STATUS_UNDEFINED: Final[str] = "math gain ≈ 0: TI undefined"
STATUS_MATH_FELL: Final[str] = "math gain < 0: TI is a ratio against a math loss"


@dataclass(frozen=True)
class BenchmarkTransfer:
    """One benchmark of a (tuned, base) pair. Scores in percent, ``delta`` in points.

    ``relative_gain`` (v1, a fraction) is ``None`` when the base score is 0; ``normalized_delta``
    (δ_b), ``signed_root`` (s_b) and ``weight`` (ŵ_b) are filled for v2 only.
    """

    benchmark: str
    group: Group
    base: float
    tuned: float
    delta: float
    relative_gain: float | None = None
    normalized_delta: float | None = None
    signed_root: float | None = None
    weight: float | None = None


@dataclass(frozen=True)
class TransferIndex:
    """TI of one (tuned, base) pair.

    ``group_gain[g]`` is ΔR_g (v1, a fraction) or DI_g (v2); ``math_gain`` is ΔR_math or DI_math;
    ``ti[g]`` for g in other/non is in percent, ``None`` when undefined (see ``status`` and
    ``notes``); ``sigma`` (points, v2 only) is the σ_g used and ``sigma_source`` where it came from.
    """

    version: TIVersion
    benchmarks: tuple[BenchmarkTransfer, ...]
    group_gain: dict[Group, float | None]
    math_gain: float
    ti: dict[Group, float | None]
    status: str
    min_math_gain: float
    sigma: dict[Group, float] | None = None
    sigma_source: str = ""
    base_model: str = ""
    tuned_model: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def gain_name(self) -> str:
        """``"ΔR"`` for v1, ``"DI"`` for v2."""
        return "ΔR" if self.version == "v1" else "DI"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN becomes ``None``."""
        return {
            "version": self.version,
            "base_model": self.base_model,
            "tuned_model": self.tuned_model,
            "gain_name": self.gain_name,
            "math_gain": _clean(self.math_gain),
            "group_gain": {g: _clean(v) for g, v in self.group_gain.items()},
            "ti": {g: _clean(v) for g, v in self.ti.items()},
            "status": self.status,
            "min_math_gain": self.min_math_gain,
            "sigma": None if self.sigma is None else {g: _clean(v) for g, v in self.sigma.items()},
            "sigma_source": self.sigma_source,
            "benchmarks": [{k: _clean(v) for k, v in vars(b).items()} for b in self.benchmarks],
            "notes": list(self.notes),
        }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- array core: shapes (..., B) in, (..., 3) out, groups in GROUPS order ----------------------


def group_gains(
    version: TIVersion,
    base: np.ndarray,
    tuned: np.ndarray,
    group_idx: np.ndarray,
    sigma: np.ndarray | None = None,
) -> np.ndarray:
    """Per-group gains, shape ``(..., 3)`` in :data:`GROUPS` order; NaN for a group with no usable
    benchmark. ``base``/``tuned``: percent, shape ``(..., B)``; ``group_idx``: shape ``(B,)``;
    ``sigma``: shape ``(3,)`` or ``(..., 3)`` in points (v2 only)."""
    base = np.asarray(base, dtype=float)
    tuned = np.asarray(tuned, dtype=float)
    if version == "v1":
        return _v1_gains(base, tuned, group_idx)
    if sigma is None:
        raise ConfigError("TI v2 needs σ for every group", "pass sigma or compute it from a population")
    return _v2_gains(base, tuned, group_idx, np.asarray(sigma, dtype=float))


def _v1_gains(base: np.ndarray, tuned: np.ndarray, group_idx: np.ndarray) -> np.ndarray:
    positive = base > 0
    rel = np.divide(tuned - base, base, out=np.full(base.shape, np.nan), where=positive)
    out = np.full(base.shape[:-1] + (len(GROUPS),), np.nan)
    for g in range(len(GROUPS)):
        mask = group_idx == g
        if not mask.any():
            continue
        count = positive[..., mask].sum(axis=-1)
        total = np.where(positive[..., mask], rel[..., mask], 0.0).sum(axis=-1)
        out[..., g] = np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)
    return out


def _v2_gains(base: np.ndarray, tuned: np.ndarray, group_idx: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    delta_n = (tuned - base) / sigma[..., group_idx]
    signed_root = np.sign(delta_n) * np.sqrt(np.abs(delta_n))
    out = np.full(base.shape[:-1] + (len(GROUPS),), np.nan)
    for g in range(len(GROUPS)):
        mask = group_idx == g
        if not mask.any():
            continue
        out[..., g] = (_weights(base[..., mask]) * signed_root[..., mask]).sum(axis=-1)
    return out


def _weights(base_in_group: np.ndarray) -> np.ndarray:
    """Headroom weights ``100 - R_base`` normalised over the last axis; equal if all are 0."""
    headroom = 100.0 - base_in_group
    total = headroom.sum(axis=-1, keepdims=True)
    equal = np.full(headroom.shape, 1.0 / headroom.shape[-1])
    weights: np.ndarray = np.divide(headroom, total, out=equal, where=total > 0)
    return weights


def ti_from_gains(gains: np.ndarray, min_math_gain: float) -> np.ndarray:
    """``100 · gain_g / gain_math``, shape like ``gains``; NaN where ``|gain_math| <
    min_math_gain`` (or NaN), and in the math column itself."""
    math_gain = gains[..., MATH : MATH + 1]
    defined = np.abs(np.nan_to_num(math_gain, nan=0.0)) >= min_math_gain
    out: np.ndarray = np.divide(100.0 * gains, math_gain, out=np.full(gains.shape, np.nan), where=defined)
    out[..., MATH] = np.nan
    return out


# --- σ from a population of pairs ---------------------------------------------------------------


def sigma_from_deltas(deltas_by_group: Mapping[Group, Sequence[float]], *, ddof: int = DEFAULT_DDOF) -> dict[Group, float]:
    """σ_g (points): the standard deviation of each group's deltas with ``ddof``.

    Raises :class:`ConfigError` for a group with too few deltas or whose deltas are all equal.
    """
    if ddof < 0:
        raise ConfigError(f"ddof must be 0 or more, got {ddof}", "use ddof=1 (the default) or 0")
    sigma: dict[Group, float] = {}
    for group, deltas in deltas_by_group.items():
        values = np.asarray(deltas, dtype=float)
        if values.size <= ddof:
            raise ConfigError(
                f"σ for group {group!r} needs more than {ddof} delta(s) with ddof={ddof}, the population has {values.size}",
                f"add pairs to the population, lower ddof, or set σ for {group} explicitly",
            )
        value = float(np.std(values, ddof=ddof))
        if not value > 0:
            raise ConfigError(
                f"σ for group {group!r} is 0 (all {values.size} deltas are equal)",
                f"set σ for {group} explicitly",
            )
        sigma[group] = value
    return sigma


def population_deltas(
    scores: Mapping[str, Mapping[str, float]],
    pairs: Sequence[tuple[str, str]],
    groups: Mapping[str, Group] | None = None,
) -> dict[Group, list[float]]:
    """Deltas (points) of every (tuned, base) pair in ``pairs`` on every benchmark both models
    have, by group. ``scores``: model -> benchmark -> percent."""
    out: dict[Group, list[float]] = {}
    for tuned, base in pairs:
        for name in (tuned, base):
            if name not in scores:
                raise DataError(f"model {name!r} has no scores", f"known models: {', '.join(sorted(scores))}")
        common = sorted(set(scores[tuned]) & set(scores[base]))
        for bench in common:
            group = resolve_groups([bench], groups)[bench]
            out.setdefault(group, []).append(float(scores[tuned][bench]) - float(scores[base][bench]))
    return out


def population_sigma(
    scores: Mapping[str, Mapping[str, float]],
    pairs: Sequence[tuple[str, str]],
    groups: Mapping[str, Group] | None = None,
    *,
    ddof: int = DEFAULT_DDOF,
) -> dict[Group, float]:
    """σ_g over every (tuned, base) pair of a study: :func:`population_deltas` then
    :func:`sigma_from_deltas`."""
    return sigma_from_deltas(population_deltas(scores, pairs, groups), ddof=ddof)


def study_sigma(
    scores: Mapping[str, Mapping[str, float]],
    population: Sequence[tuple[str, str]],
    groups: Mapping[str, Group] | None = None,
    *,
    explicit: Mapping[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    present: Collection[Group] | None = None,
    compared: tuple[str, str] | None = None,
) -> tuple[dict[Group, float], str]:
    """σ_g of a study (points) and where it came from: groups in ``explicit`` as given, the others
    from the deltas of the ``population`` of (tuned, base) pairs (:func:`population_deltas`, then
    :func:`sigma_from_deltas` with ``ddof``), limited to the ``present`` groups when given. The
    ``compared`` (tuned, base) pair is always part of the population (first, when it was not in it).

    Raises :class:`ConfigError` (or :class:`DataError`) when a needed group's σ cannot be computed.
    """
    population = list(population)
    if compared is not None and compared not in population:
        population.insert(0, compared)
    given = dict(explicit or {})
    deltas = population_deltas(scores, population, groups) if population else {}
    needed = {g: d for g, d in deltas.items() if g not in given and (present is None or g in present)}
    sigma = {**sigma_from_deltas(needed, ddof=ddof), **given}
    parts = []
    if needed:
        counts = ", ".join(f"{g}: {len(needed[g])}" for g in GROUPS if g in needed)
        parts.append(f"deltas of {len(population)} pair(s) ({counts}), ddof={ddof}")
    if given:
        parts.append(f"given for {', '.join(given)}")
    return sigma, "; ".join(parts)


def resolve_groups(benchmarks: Sequence[str], groups: Mapping[str, Group] | None = None) -> dict[str, Group]:
    """The group of each benchmark: ``groups`` first, then the built-in names; unknown names raise
    one :class:`DataError` naming them and the known names."""
    extra = dict(groups or {})
    out: dict[str, Group] = {}
    unknown = []
    for bench in benchmarks:
        group = extra.get(bench, BENCHMARK_GROUPS.get(bench))
        if group is None:
            unknown.append(bench)
        elif group not in GROUPS:
            raise DataError(f"benchmark {bench!r} has group {group!r}", f"use one of {', '.join(GROUPS)}")
        else:
            out[bench] = group
    if unknown:
        raise DataError(
            f"unknown benchmark {', '.join(repr(u) for u in unknown)}; known: {', '.join(sorted(BENCHMARK_GROUPS))}",
            "rename it or give its group (math, other or non)",
        )
    return out


# --- the point estimate --------------------------------------------------------------------------


def transfer_index(
    base_scores: Mapping[str, float],
    tuned_scores: Mapping[str, float],
    groups: Mapping[str, Group] | None = None,
    *,
    version: TIVersion = "v2",
    sigma: Mapping[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    min_math_gain: float | None = None,
    base_model: str = "",
    tuned_model: str = "",
    sigma_source: str | None = None,
) -> TransferIndex:
    """TI of one pair from per-benchmark scores (percent); both mappings need the same benchmarks.

    v2 with ``sigma=None`` takes σ_g from this pair's own deltas (a population of one pair) with
    ``ddof``; pass the study's σ (e.g. from :func:`population_sigma`) to compare several models.
    ``min_math_gain`` defaults to :data:`DEFAULT_MIN_MATH_GAIN` of the version.
    """
    if version not in TI_VERSIONS:
        raise ConfigError(f"unknown TI version {version!r}", "use v1 or v2")
    names, group_idx, base, tuned = _align(base_scores, tuned_scores, groups)
    threshold = DEFAULT_MIN_MATH_GAIN[version] if min_math_gain is None else float(min_math_gain)
    sigma_used, sigma_vec, source = None, None, ""
    if version == "v2":
        sigma_used, source = _pair_sigma(sigma, group_idx, base, tuned, ddof)
        sigma_vec = np.array([sigma_used.get(g, np.nan) for g in GROUPS])
        source = sigma_source if sigma_source is not None else source
    gains = group_gains(version, base[None], tuned[None], group_idx, sigma_vec)[0]
    ti = ti_from_gains(gains[None], threshold)[0]
    rows = _rows(version, names, group_idx, base, tuned, sigma_vec)
    status, notes = _status(version, names, group_idx, base, gains, threshold)
    return TransferIndex(
        version=version,
        benchmarks=rows,
        group_gain={g: _opt(gains[i]) for i, g in enumerate(GROUPS)},
        math_gain=float(gains[MATH]),
        ti={g: _opt(ti[GROUP_INDEX[g]]) for g in TRANSFER_GROUPS},
        status=status,
        min_math_gain=threshold,
        sigma=sigma_used,
        sigma_source=source,
        base_model=base_model,
        tuned_model=tuned_model,
        notes=notes,
    )


def _opt(value: float) -> float | None:
    return None if not math.isfinite(float(value)) else float(value)


def _align(
    base_scores: Mapping[str, float],
    tuned_scores: Mapping[str, float],
    groups: Mapping[str, Group] | None,
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    if set(base_scores) != set(tuned_scores):
        only_b = sorted(set(base_scores) - set(tuned_scores))
        only_t = sorted(set(tuned_scores) - set(base_scores))
        raise DataError(
            f"base and tuned scores cover different benchmarks (base only: {only_b}, tuned only: {only_t})",
            "compare the benchmarks both models have",
        )
    names = sorted(base_scores)
    resolved = resolve_groups(names, groups)
    if "math" not in resolved.values():
        raise DataError("no math benchmark among the scores", "TI is relative to the math gain: add one")
    base = np.array([float(base_scores[n]) for n in names])
    tuned = np.array([float(tuned_scores[n]) for n in names])
    for label, arr in (("base", base), ("tuned", tuned)):
        bad = [n for n, v in zip(names, arr) if not (0.0 <= v <= 100.0)]
        if bad:
            raise DataError(f"{label} scores outside 0-100 for {bad}", "scores are accuracies in percent")
    # Benchmarks in group order, then by name: tables read math, other, non.
    order = sorted(range(len(names)), key=lambda i: (GROUP_INDEX[resolved[names[i]]], names[i]))
    names = [names[i] for i in order]
    group_idx = np.array([GROUP_INDEX[resolved[n]] for n in names])
    return names, group_idx, base[order], tuned[order]


def _pair_sigma(
    sigma: Mapping[Group, float] | None,
    group_idx: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    ddof: int,
) -> tuple[dict[Group, float], str]:
    """The σ to use and where it came from: checked if given, else this pair's own deltas."""
    present = [GROUPS[i] for i in sorted(set(group_idx.tolist()))]
    if sigma is None:
        deltas = {g: (tuned - base)[group_idx == GROUP_INDEX[g]] for g in present}
        return sigma_from_deltas(deltas, ddof=ddof), f"this pair's deltas, ddof={ddof}"
    out = {g: float(v) for g, v in sigma.items()}
    for g in present:
        if g not in out or not (math.isfinite(out[g]) and out[g] > 0):
            raise ConfigError(
                f"σ for group {g!r} is missing or not a positive number ({out.get(g)})",
                "give a positive σ (points) for every group that has benchmarks",
            )
    return out, "given"


def _rows(
    version: TIVersion,
    names: list[str],
    group_idx: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    sigma_vec: np.ndarray | None,
) -> tuple[BenchmarkTransfer, ...]:
    weights = np.zeros(len(names))
    for g in range(len(GROUPS)):
        mask = group_idx == g
        if mask.any():
            weights[mask] = _weights(base[mask])
    rows = []
    for i, name in enumerate(names):
        delta = float(tuned[i] - base[i])
        row: dict[str, Any] = {}
        if version == "v1":
            row["relative_gain"] = delta / float(base[i]) if base[i] > 0 else None
        else:
            assert sigma_vec is not None
            d = delta / float(sigma_vec[group_idx[i]])
            row["normalized_delta"] = d
            row["signed_root"] = math.copysign(math.sqrt(abs(d)), d) if d != 0 else 0.0
            row["weight"] = float(weights[i])
        rows.append(BenchmarkTransfer(name, GROUPS[group_idx[i]], float(base[i]), float(tuned[i]), delta, **row))
    return tuple(rows)


def _status(
    version: TIVersion,
    names: list[str],
    group_idx: np.ndarray,
    base: np.ndarray,
    gains: np.ndarray,
    threshold: float,
) -> tuple[str, tuple[str, ...]]:
    notes: list[str] = []
    if version == "v1":
        for name, b in zip(names, base):
            if b == 0:
                notes.append(f"{name}: base score 0, relative gain undefined; left out of the v1 group mean")
    for g in TRANSFER_GROUPS:
        if not (group_idx == GROUP_INDEX[g]).any():
            notes.append(f"no {g} benchmark: TI_{g} undefined")
        elif not math.isfinite(gains[GROUP_INDEX[g]]):
            notes.append(f"no usable {g} benchmark: TI_{g} undefined")
    math_gain = float(gains[MATH])
    if not math.isfinite(math_gain) or abs(math_gain) < threshold:
        notes.append(f"|math gain| = {abs(math_gain):.4g} is below {threshold:g}")
        return STATUS_UNDEFINED, tuple(notes)
    if math_gain < 0:
        return STATUS_MATH_FELL, tuple(notes)
    return STATUS_OK, tuple(notes)
