"""The Transferability Index (PAPER.md section 2): does a math gain carry over to other groups?

Both published versions, as pure functions. Scores are accuracies in percent (0-100), one per
benchmark; each benchmark belongs to a group ("math", "other", "non").

- **v1** (July 2025): per benchmark the relative gain ``(R_tuned - R_base) / R_base`` (a fraction);
  ``ΔR_g`` is its mean over group g; ``TI_g = 100 · ΔR_g / ΔR_math``. A benchmark whose base score
  is 0 has no relative gain: it is left out of its group's mean and named in ``notes``.
- **v2** (October 2025, the default): ``Δ_b`` in points; ``δ_b = Δ_b / σ_g``; ``s_b = sign(δ_b) ·
  sqrt(|δ_b|)``; headroom weights ``w_b = 100 - R_base,b`` normalised within the group (equal
  weights if the whole group sits at 100); ``DI_g = Σ ŵ_b s_b``; ``TI_g = 100 · DI_g / DI_math``.

σ_g (points) is one constant per group for a whole study, from a population of (tuned, base)
pairs or set explicitly; :mod:`transferlab.transfer.sigma` computes it and documents the default for
a single pair (one σ shared by every group, which cancels out of TI).

**When TI is undefined: one rule, one status** (:func:`undefined_reason`). If ``|ΔR_math|`` (v1) or
``|DI_math|`` (v2) is below ``min_math_gain`` (defaults :data:`DEFAULT_MIN_MATH_GAIN`: a 2 % mean
relative gain for v1; 0.25 for v2, a uniform math gain of σ_math/16), or, where item-level scores
give the math gain a confidence interval, that interval contains 0, the ratio means nothing: every
TI of the pair is ``None``, the status is :data:`STATUS_UNDEFINED` and ``reason`` says which
condition failed. :func:`transfer_index` applies the first condition; :func:`with_math_gain_ci`
applies the rule again with the interval (:func:`transferlab.transfer.stats.ti_bootstrap` calls it),
so every consumer reads the one status of the :class:`TransferIndex` it gets.

The array functions (:func:`group_gains`, :func:`ti_from_gains`) take a leading replicate axis, so
the bootstrap reuses exactly the arithmetic of the point estimate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from transferlab.errors import ConfigError, DataError
from transferlab.groups import GROUPS, Group, resolve_groups
from transferlab.options import TI_VERSIONS, TIVersion
from transferlab.transfer.sigma import DEFAULT_DDOF, check_sigma, one_pair_sigma

TRANSFER_GROUPS: Final[tuple[Group, ...]] = ("other", "non")
GROUP_INDEX: Final[dict[Group, int]] = {g: i for i, g in enumerate(GROUPS)}
MATH: Final[int] = GROUP_INDEX["math"]

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
    ``ti[g]`` for g in other/non is in percent, ``None`` when undefined: for every group when the
    status is :data:`STATUS_UNDEFINED` (``reason`` says why), for one group without a usable
    benchmark (``notes``). ``math_gain_ci`` is the math gain's interval where items gave one;
    ``sigma`` (points, v2 only) is the σ_g used and ``sigma_source`` where it came from.
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
    reason: str | None = None
    math_gain_ci: tuple[float, float] | None = None

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
            "reason": self.reason,
            "math_gain_ci": None if self.math_gain_ci is None else [_clean(v) for v in self.math_gain_ci],
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

    v2 with ``sigma=None`` takes σ from this pair alone (:func:`~transferlab.transfer.sigma.one_pair_sigma`:
    one σ for every group, the spread of all its deltas with ``ddof``, which cancels out of TI);
    pass the study's σ (e.g. from :func:`~transferlab.transfer.sigma.population_sigma`) to compare
    several models. ``min_math_gain`` defaults to :data:`DEFAULT_MIN_MATH_GAIN` of the version.
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
    reason = undefined_reason(float(gains[MATH]), threshold, gain_name="ΔR" if version == "v1" else "DI")
    status = STATUS_UNDEFINED if reason else STATUS_MATH_FELL if gains[MATH] < 0 else STATUS_OK
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
        notes=_notes(version, names, group_idx, base, gains),
        reason=reason,
    )


def undefined_reason(
    math_gain: float,
    min_math_gain: float,
    math_gain_ci: tuple[float, float] | None = None,
    *,
    confidence: float = 0.95,
    gain_name: str = "DI",
) -> str | None:
    """The one rule for an undefined TI: why it is undefined, or ``None`` when it is defined.

    Undefined when ``|math_gain|`` is below ``min_math_gain`` (or not a number), or when
    ``math_gain_ci`` is given (item-level scores) and contains 0.
    """
    if not (math.isfinite(math_gain) and abs(math_gain) >= min_math_gain):
        return f"|{gain_name}_math| = {abs(math_gain):.3g} is below {min_math_gain:g}"
    if math_gain_ci is not None and not (math_gain_ci[0] > 0 or math_gain_ci[1] < 0):
        low, high = math_gain_ci
        return f"the {100 * confidence:g}% CI of {gain_name}_math, [{low:.3g}, {high:.3g}], contains 0"
    return None


def with_math_gain_ci(point: TransferIndex, math_gain_ci: tuple[float, float], *, confidence: float = 0.95) -> TransferIndex:
    """``point`` judged again by :func:`undefined_reason` with the math gain's interval: when it is
    undefined, every TI becomes ``None`` and the status :data:`STATUS_UNDEFINED`, with the reason."""
    ci = (float(math_gain_ci[0]), float(math_gain_ci[1]))
    reason = undefined_reason(point.math_gain, point.min_math_gain, ci, confidence=confidence, gain_name=point.gain_name)
    if reason is None:
        return dataclasses.replace(point, math_gain_ci=ci)
    return dataclasses.replace(point, ti=dict.fromkeys(point.ti), status=STATUS_UNDEFINED, reason=reason, math_gain_ci=ci)


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
    """The σ to use and where it came from: checked if given, else this pair's own (one σ for every group)."""
    present = [GROUPS[i] for i in sorted(set(group_idx.tolist()))]
    if sigma is None:
        deltas = {g: (tuned - base)[group_idx == GROUP_INDEX[g]].tolist() for g in present}
        return one_pair_sigma(deltas, ddof=ddof)
    return check_sigma(sigma, present), "given"


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


def _notes(
    version: TIVersion,
    names: list[str],
    group_idx: np.ndarray,
    base: np.ndarray,
    gains: np.ndarray,
) -> tuple[str, ...]:
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
    return tuple(notes)
