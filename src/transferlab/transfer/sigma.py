"""σ_g of TI v2 (PAPER.md section 2, step 2): one spread per group, in points, for a whole study.

σ_g is the standard deviation of the deltas (points) of group g over a population of (tuned, base)
pairs, with ``ddof=1`` by default. Why 1: the pairs of a study are a sample of the tuned models one
could have compared, and a study often has only a few deltas per group, where the unbiased variance
matters (the paper does not publish its choice). ``DI_g`` scales as ``σ_g^-1/2``, so TI depends on
σ only through ``sqrt(σ_math / σ_g)``: σ says how much a point of change on one group counts
against a point on math, given how much each group's benchmarks move from one tuned model to another.

**One pair** (the population is the compared pair alone, e.g. ``transferlab ti`` without
``--pairs``, or a study with one tuned model): a group's spread over this pair's own deltas is a
within-pair spread. It says how unevenly this one model moved across the group's benchmarks, not
how much the group moves between models: a group that moved evenly would get a tiny σ and a huge
δ, and a group with one benchmark (or equal deltas) would have no σ at all. So the default for one
pair is **one σ shared by every group**: the standard deviation of all the pair's deltas (every
group, ``ddof``). Equal σ cancel out of TI exactly (``sqrt(σ_math / σ_g) = 1``), so TI does not
depend on this number; it only sets the scale of DI (and so what ``min_math_gain`` means: a math
gain small against the pair's own spread of changes is undefined). To weigh the groups as the
paper does, give σ for every group (``--sigma``, or ``ti.sigma`` in a study spec) or a population
of several pairs (``--pairs``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Final

import numpy as np

from transferlab.errors import ConfigError, DataError
from transferlab.groups import GROUPS, Group, resolve_groups

DEFAULT_DDOF: Final[int] = 1
SIGMA_FLAG_EXAMPLE: Final[str] = "--sigma math=S,other=S,non=S (points; equal values cancel out of TI)"


def sigma_from_deltas(deltas_by_group: Mapping[Group, Sequence[float]], *, ddof: int = DEFAULT_DDOF) -> dict[Group, float]:
    """σ_g (points): the standard deviation of each group's deltas with ``ddof``.

    Raises :class:`ConfigError` for a group with too few deltas or whose deltas are all equal,
    naming the flag that sets its σ.
    """
    _check_ddof(ddof)
    fix = "pass --sigma {group}=S (points; ti.sigma in a study spec) or add pairs with --pairs"
    return {g: _spread(d, ddof, f"σ for group {g!r}", "the population", fix.format(group=g)) for g, d in deltas_by_group.items()}


def _spread(deltas: Sequence[float], ddof: int, what: str, holder: str, fix: str) -> float:
    """The standard deviation (points) of ``deltas`` with ``ddof``; a :class:`ConfigError` naming
    ``what`` and ``fix`` when there are too few deltas or they are all equal."""
    values = np.asarray(deltas, dtype=float)
    if values.size <= ddof:
        raise ConfigError(f"{what} needs more than {ddof} delta(s) with ddof={ddof}, {holder} has {values.size}", fix)
    value = float(np.std(values, ddof=ddof))
    if not value > 0:
        raise ConfigError(f"{what} is 0 (all {values.size} deltas of {holder} are equal)", fix)
    return value


def _check_ddof(ddof: int) -> None:
    if ddof < 0:
        raise ConfigError(f"ddof must be 0 or more, got {ddof}", "use ddof=1 (the default) or 0")


def check_sigma(sigma: Mapping[Group, float], present: Collection[Group]) -> dict[Group, float]:
    """An explicit σ as floats; raises :class:`ConfigError` when a ``present`` group has none or a
    σ that is not a positive number."""
    out = {g: float(v) for g, v in sigma.items()}
    for g in present:
        if g not in out or not (math.isfinite(out[g]) and out[g] > 0):
            raise ConfigError(
                f"σ for group {g!r} is missing or not a positive number ({out.get(g)})",
                f"give a positive σ (points) for every group that has benchmarks: {SIGMA_FLAG_EXAMPLE}",
            )
    return out


def one_pair_sigma(
    deltas_by_group: Mapping[Group, Sequence[float]], *, ddof: int = DEFAULT_DDOF, explicit: Mapping[Group, float] | None = None
) -> tuple[dict[Group, float], str]:
    """σ for a population of one pair, and where it came from (see the module's docstring).

    ``explicit`` covering every group of ``deltas_by_group`` is used as given; else one σ shared by
    every group, the standard deviation of all the pair's deltas with ``ddof``. Raises
    :class:`ConfigError`, naming the flag to add, when σ is given for only some groups (that would
    weigh the groups by a spread nobody measured) or the pair's deltas have no spread.
    """
    _check_ddof(ddof)
    given = dict(explicit or {})
    groups = [g for g in GROUPS if g in deltas_by_group]
    if given:
        missing = [g for g in groups if g not in given]
        if missing:
            flag = ",".join(f"{g}={given[g]:g}" if g in given else f"{g}=S" for g in groups)
            raise ConfigError(
                f"σ is given for {', '.join(given)} but not for {', '.join(missing)}, and one pair cannot measure a group's σ",
                f"give every group: --sigma {flag}, or add pairs with --pairs",
            )
        return check_sigma(given, groups), f"given for {', '.join(given)}"
    deltas = [d for g in groups for d in deltas_by_group[g]]
    value = _spread(deltas, ddof, "σ of one pair", "the pair", f"pass {SIGMA_FLAG_EXAMPLE}, add pairs with --pairs, or use --version v1")
    source = f"one pair: the spread of its {len(deltas)} deltas over every group, ddof={ddof}, shared by every group (equal σ cancel out of TI)"
    return dict.fromkeys(groups, value), source


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
    A population of one pair gets :func:`one_pair_sigma`.

    Raises :class:`ConfigError` (or :class:`DataError`) when a needed group's σ cannot be computed.
    """
    population = list(population)
    if compared is not None and compared not in population:
        population.insert(0, compared)
    given = dict(explicit or {})
    deltas = population_deltas(scores, population, groups) if population else {}
    deltas = {g: d for g, d in deltas.items() if present is None or g in present}
    if len(population) == 1:
        return one_pair_sigma(deltas, ddof=ddof, explicit=given)
    needed = {g: d for g, d in deltas.items() if g not in given}
    sigma = {**sigma_from_deltas(needed, ddof=ddof), **given}
    parts = []
    if needed:
        counts = ", ".join(f"{g}: {len(needed[g])}" for g in GROUPS if g in needed)
        parts.append(f"deltas of {len(population)} pair(s) ({counts}), ddof={ddof}")
    if given:
        parts.append(f"given for {', '.join(given)}")
    return sigma, "; ".join(parts)
