"""TI with bootstrap CIs from the per-item scores in a store (``transferlab ti --store``).

A model is named by its study name (when the store holds a study that has it), its store key
(``name@revision``) or the name part of its key when that is unique. Within a study, σ_g comes
from the study's population (its spec's ``ti`` section, or ``pairs``/``sigma``); outside one,
from ``pairs`` (default: the compared pair) on the benchmarks and settings both models share.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from transferlab.errors import ConfigError, DataError
from transferlab.groups import Group
from transferlab.options import TIVersion
from transferlab.store import Store
from transferlab.study.run import stored_studies, study_for_store
from transferlab.study.spec import StudySpec
from transferlab.transfer.analysis import DeltaRow, ScoresByItem, TIRow, analyse_store, gen_keys, read_cell_rows
from transferlab.transfer.stats import ti_bootstrap
from transferlab.transfer.ti import DEFAULT_DDOF, resolve_groups, study_sigma

__all__ = ["resolve_model_key", "ti_from_store"]


def ti_from_store(
    store: Store,
    base: str,
    tuned: str,
    *,
    spec_path: str | Path | None = None,
    study: str | None = None,
    version: TIVersion = "v2",
    sigma: Mapping[Group, float] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    ddof: int = DEFAULT_DDOF,
    min_math_gain: float | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[TIRow, list[DeltaRow]]:
    """TI of ``tuned`` against ``base`` with bootstrap CIs, and each benchmark's delta with its CI.

    ``sigma``: σ_g (points) set explicitly for some groups; ``pairs``: the σ population as (tuned,
    base) names (default: the study's, or the compared pair outside a study).
    """
    spec: StudySpec | None = None
    keys: dict[str, str] = {}
    if spec_path or study or any(tuned in {m.name for m in s.models} for s in stored_studies(store).values()):
        spec, keys = study_for_store(store, spec_path, study or _study_of(store, tuned))
    if spec is not None and tuned in keys and base in keys:
        return _from_study(
            store,
            spec,
            keys,
            base,
            tuned,
            version=version,
            sigma=sigma,
            pairs=pairs,
            ddof=ddof,
            min_math_gain=min_math_gain,
            n_resamples=n_resamples,
            seed=seed,
        )
    return _adhoc(store, base, tuned, version=version, sigma=sigma, pairs=pairs, ddof=ddof, min_math_gain=min_math_gain, n_resamples=n_resamples, seed=seed)


def _study_of(store: Store, model: str) -> str | None:
    names = [n for n, s in stored_studies(store).items() if model in {m.name for m in s.models}]
    return names[-1] if names else None


def _from_study(
    store: Store,
    spec: StudySpec,
    keys: dict[str, str],
    base: str,
    tuned: str,
    *,
    version: TIVersion,
    sigma: Mapping[Group, float] | None,
    pairs: Sequence[tuple[str, str]] | None,
    ddof: int,
    min_math_gain: float | None,
    n_resamples: int,
    seed: int,
) -> tuple[TIRow, list[DeltaRow]]:
    if spec.model(tuned).base != base:
        raise ConfigError(f"in study {spec.name!r}, {tuned} is tuned from {spec.model(tuned).base}, not {base}", f"pass --base {spec.model(tuned).base}")
    ti = spec.ti
    if sigma:
        ti = dataclasses.replace(ti, sigma={**ti.sigma, **sigma})
    if pairs:
        ti = dataclasses.replace(ti, population=tuple(t for t, _ in pairs))
    ti = dataclasses.replace(ti, version=version, ddof=ddof, min_math_gain=min_math_gain)
    spec = dataclasses.replace(spec, ti=ti)
    analysis = analyse_store(store, spec, keys, n_resamples=n_resamples, seed=seed, only_pairs=[tuned])
    if not analysis.pairs:
        raise DataError(f"{tuned} or {base} has no scored results in the store", "run `transferlab study run` first")
    pair = analysis.pairs[0]
    return pair.ti[version], list(pair.deltas)


def resolve_model_key(store: Store, name: str) -> str:
    """A store key from a key or the unique model name before ``@``."""
    keys = [str(r["model_key"]) for r in store.models()]
    if name in keys:
        return name
    matches = [k for k in keys if k.split("@", 1)[0] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DataError(f"{name!r} matches several stored models ({', '.join(matches)})", "pass the full key name@revision")
    raise DataError(f"no model {name!r} in the store", f"stored models: {', '.join(keys) or 'none'}")


def _common_cells(store: Store, base: str, tuned: str) -> dict[str, str]:
    """``{benchmark: gen_key}`` both models have, with exactly one shared settings key each."""
    benchmarks = {bench for bench, _ in store.gen_keys(base)}
    out = {}
    for b in sorted(benchmarks):
        shared = sorted(set(gen_keys(store, base, b)) & set(gen_keys(store, tuned, b)))
        if len(shared) > 1:
            raise DataError(f"{b}: both models have completions under {len(shared)} settings", "pass --spec to choose a study's settings")
        if shared:
            out[b] = shared[0]
    if not out:
        raise DataError(f"{base} and {tuned} share no benchmark under the same settings", "evaluate both with the same settings (transferlab study run)")
    return out


def _adhoc(
    store: Store,
    base_name: str,
    tuned_name: str,
    *,
    version: TIVersion,
    sigma: Mapping[Group, float] | None,
    pairs: Sequence[tuple[str, str]] | None,
    ddof: int,
    min_math_gain: float | None,
    n_resamples: int,
    seed: int,
) -> tuple[TIRow, list[DeltaRow]]:
    base, tuned = resolve_model_key(store, base_name), resolve_model_key(store, tuned_name)
    cells = _common_cells(store, base, tuned)
    population = [(resolve_model_key(store, t), resolve_model_key(store, b)) for t, b in (pairs or [])]
    items: dict[str, dict[str, ScoresByItem]] = {}
    for model in {base, tuned, *(m for p in population for m in p)}:
        items[model] = {b: read_cell_rows(store, model, b, gk)[0] for b, gk in cells.items()}
        items[model] = {b: v for b, v in items[model].items() if v}
    common = sorted(set(items[base]) & set(items[tuned]))
    groups = resolve_groups(common)
    scores = {m: {b: 100 * sum(sum(v) / len(v) for v in by.values()) / len(by) for b, by in bench.items()} for m, bench in items.items()}
    pair_sigma = None
    if version == "v2":
        pair_sigma, _ = study_sigma(scores, population, groups, explicit=sigma, ddof=ddof, present=set(groups.values()), compared=(tuned, base))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = ti_bootstrap(
            {b: items[base][b] for b in common},
            {b: items[tuned][b] for b in common},
            groups,
            version=version,
            sigma=pair_sigma,
            ddof=ddof,
            min_math_gain=min_math_gain,
            n_resamples=n_resamples,
            seed=seed,
        )
    point = dataclasses.replace(boot.point, base_model=base, tuned_model=tuned)
    deltas = [DeltaRow(r.benchmark, r.group, r.base, r.tuned, r.delta, *boot.benchmark_delta_ci[r.benchmark]) for r in point.benchmarks]
    return TIRow(version, point, dict(boot.ti_ci), boot.status), deltas
