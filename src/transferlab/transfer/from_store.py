"""TI and the report's analysis from the per-item scores in a store (``ti --store``, ``report --store``).

:func:`store_analysis` decides what a store can give: a recorded study (or ``--spec``) gives the
study's analysis; any two models of any store (``base``, ``tuned``) give the analysis of that pair
(:func:`analyse_pair`); a store with one model and no study gives its results alone
(:func:`analyse_results`). A model is named by its study name (when the store holds a study that
has it), its store key (``name@revision``) or the name part of its key when that is unique.

Within a study, σ_g comes from the study's population (its spec's ``ti`` section, or
``pairs``/``sigma``); outside one, from ``pairs`` (default: the compared pair alone, which gets
:func:`~transferlab.transfer.sigma.one_pair_sigma`) on the benchmarks and settings both models share.
Every cell counts the verdicts its :class:`~transferlab.pipeline.results.ScorerChoice` picks, as
``results`` does.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from transferlab.errors import ConfigError, DataError, TransferlabError
from transferlab.groups import BENCHMARK_GROUPS, GROUPS, Group, resolve_groups
from transferlab.options import TI_VERSIONS, TIVersion
from transferlab.pipeline.results import DEFAULT_SCORING, ScorerChoice
from transferlab.store import Store
from transferlab.study.run import stored_studies, study_for_store
from transferlab.study.spec import StudySpec, TISettings
from transferlab.transfer.analysis import (
    Cell,
    DeltaRow,
    ModelEntry,
    ScoresByItem,
    StudyAnalysis,
    TIRow,
    analyse_store,
    cell_summary,
    gen_keys,
    model_settings,
    pair_result,
    read_cell_rows,
    version_differences,
)
from transferlab.transfer.sigma import DEFAULT_DDOF, study_sigma

__all__ = ["analyse_pair", "analyse_results", "own_groups", "resolve_model_key", "store_analysis", "ti_from_store"]


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
    scoring: ScorerChoice = DEFAULT_SCORING,
) -> tuple[TIRow, list[DeltaRow]]:
    """TI of ``tuned`` against ``base`` with bootstrap CIs, and each benchmark's delta with its CI.

    ``sigma``: σ_g (points) set explicitly for some groups; ``pairs``: the σ population as (tuned,
    base) names (default: the study's, or the compared pair outside a study).
    """
    settings = TISettings(version=version, ddof=ddof, min_math_gain=min_math_gain)
    analysis = store_analysis(
        store,
        base=base,
        tuned=tuned,
        spec_path=spec_path,
        study=study,
        ti=settings,
        sigma=sigma,
        pairs=pairs,
        n_resamples=n_resamples,
        seed=seed,
        scoring=scoring,
        versions=(version,),
    )
    if not analysis.pairs:
        raise DataError(f"{tuned} or {base} has no scored results in the store", "score them first (`transferlab score` or `transferlab study run`)")
    pair = analysis.pairs[0]
    return pair.ti[version], list(pair.deltas)


def store_analysis(
    store: Store,
    *,
    base: str | None = None,
    tuned: str | None = None,
    spec_path: str | Path | None = None,
    study: str | None = None,
    ti: TISettings | None = None,
    sigma: Mapping[Group, float] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    scoring: ScorerChoice = DEFAULT_SCORING,
    versions: Sequence[TIVersion] = TI_VERSIONS,
) -> StudyAnalysis:
    """The analysis a store gives (see the module's docstring). ``ti``: the TI settings (None: the
    study's, or the defaults outside a study); ``sigma`` is set on top of them for its groups."""
    if (base is None) != (tuned is None):
        raise ConfigError("--base and --tuned go together", "name both models of the pair, or neither")
    spec, keys = _study(store, tuned, spec_path, study)
    kwargs: dict[str, Any] = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed, "scoring": scoring, "versions": versions}
    if spec is not None and (tuned is None or (tuned in keys and base in keys)):
        spec = _with_ti(spec, ti, sigma, pairs)
        if tuned is not None and spec.model(tuned).base != base:
            raise ConfigError(f"in study {spec.name!r}, {tuned} is tuned from {spec.model(tuned).base}, not {base}", f"pass --base {spec.model(tuned).base}")
        return analyse_store(store, spec, keys, only_pairs=None if tuned is None else [tuned], **kwargs)
    settings = dataclasses.replace(ti or TISettings(), sigma={**(ti.sigma if ti else {}), **(sigma or {})})
    if base is not None and tuned is not None:
        return analyse_pair(store, base, tuned, population=pairs or (), ti=settings, **kwargs)
    return analyse_results(store, confidence=confidence, n_resamples=n_resamples, seed=seed, scoring=scoring)


def _study(store: Store, tuned: str | None, spec_path: str | Path | None, study: str | None) -> tuple[StudySpec | None, dict[str, str]]:
    """The study to read, if any: ``spec_path`` or ``study``; else the store's study that has
    ``tuned`` (with no pair named: the store's study, if it holds one)."""
    if spec_path or study:
        return study_for_store(store, spec_path, study)
    studies = stored_studies(store)
    if tuned is None:
        return study_for_store(store) if studies else (None, {})
    names = [n for n, s in studies.items() if tuned in {m.name for m in s.models}]
    return study_for_store(store, None, names[-1]) if names else (None, {})


def _with_ti(spec: StudySpec, ti: TISettings | None, sigma: Mapping[Group, float] | None, pairs: Sequence[tuple[str, str]] | None) -> StudySpec:
    """The study with its TI settings replaced by ``ti`` (σ and population kept), ``sigma`` set on top
    for its groups, and ``pairs`` as the σ population."""
    settings = spec.ti
    if ti is not None:
        settings = dataclasses.replace(settings, version=ti.version, ddof=ti.ddof, min_math_gain=ti.min_math_gain)
    if sigma:
        settings = dataclasses.replace(settings, sigma={**settings.sigma, **sigma})
    if pairs:
        settings = dataclasses.replace(settings, population=tuple(t for t, _ in pairs))
    return dataclasses.replace(spec, ti=settings)


def own_groups(store: Store, benchmarks: Iterable[str]) -> dict[str, str]:
    """The groups of the benchmarks of your own among ``benchmarks`` (YAML ones as the store keeps
    them, installed plugins'); a group may be one of the paper's three or a new name."""
    from transferlab.benchmarks import benchmark_group

    definitions = store.benchmark_definitions()
    found = {b: benchmark_group(b, definitions) for b in benchmarks if b not in BENCHMARK_GROUPS}
    return {b: g for b, g in found.items() if g is not None}


def _paper_groups(store: Store, cell_keys: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Group]]:
    """``cell_keys`` without the benchmarks whose group is one of your own (TI is computed per
    paper group; such benchmarks show in `results`), and the groups of the rest."""
    own = own_groups(store, cell_keys)
    kept = {b: gk for b, gk in cell_keys.items() if own.get(b, "math") in GROUPS}
    paper = {b: g for b, g in own.items() if g in GROUPS}
    return kept, resolve_groups(sorted(kept), paper)


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


def analyse_pair(
    store: Store,
    base: str,
    tuned: str,
    *,
    population: Sequence[tuple[str, str]] = (),
    ti: TISettings | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    scoring: ScorerChoice = DEFAULT_SCORING,
    versions: Sequence[TIVersion] = TI_VERSIONS,
) -> StudyAnalysis:
    """The report's analysis of any two models of a store, no study needed: the benchmarks both have
    under one shared settings key, scores with CIs, paired deltas and tests, σ from ``population``
    ((tuned, base) names; the compared pair alone by default) unless ``ti.sigma`` sets it, TI with CIs.
    ``ti``: the TI settings (None: the defaults)."""
    ti = ti or TISettings()
    base_key, tuned_key = resolve_model_key(store, base), resolve_model_key(store, tuned)
    cell_keys, groups = _paper_groups(store, _common_cells(store, base_key, tuned_key))
    entries = {base: ModelEntry(base, base_key, "base"), tuned: ModelEntry(tuned, tuned_key, "other", base)}
    for t, b in population:
        entries.setdefault(b, ModelEntry(b, resolve_model_key(store, b), "base"))
        entries.setdefault(t, ModelEntry(t, resolve_model_key(store, t), "other", b))
    models = tuple(entries.values())
    items, cells, notes = _read_cells(store, models, cell_keys, groups, scoring, confidence, n_resamples, seed)
    scores: dict[str, dict[str, float]] = {}
    for (model, bench), cell in cells.items():
        scores.setdefault(model, {})[bench] = cell.accuracy
    present = {groups[b] for b in cell_keys}
    sigma: dict[Group, float] | None
    try:
        sigma, source = study_sigma(scores, list(population), groups, explicit=ti.sigma, ddof=ti.ddof, present=present, compared=(tuned, base))
    except TransferlabError as err:
        sigma, source = None, ""
        notes.append(f"σ: {err}")
    pair = pair_result(ti, entries[tuned], items, cells, groups, sigma, notes[-1] if sigma is None else source, confidence, n_resamples, seed, versions)
    settings, differences = _store_settings(store, models, cell_keys)
    return StudyAnalysis(
        title=f"{tuned} against {base}",
        models=models,
        benchmarks=_in_group_order(cell_keys, groups),
        groups=groups,
        cells=cells,
        pairs=(pair,),
        primary_version=ti.version,
        sigma=sigma,
        sigma_source=source,
        settings=settings,
        differences=tuple(differences),
        notes=tuple(notes),
        confidence=confidence,
    )


def analyse_results(
    store: Store, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0, scoring: ScorerChoice = DEFAULT_SCORING
) -> StudyAnalysis:
    """The results of a store's only model (no study, no pair): scores with CIs, truncation and settings."""
    keys = [str(r["model_key"]) for r in store.models()]
    if not keys:
        raise DataError(f"the store {store.path} holds no model", "run `transferlab eval` or `transferlab study run` into it first")
    if len(keys) > 1:
        raise ConfigError(
            f"the store {store.path} holds {len(keys)} models and no study", f"name the pair with --base BASE --tuned TUNED (stored: {', '.join(keys)})"
        )
    key = keys[0]
    cell_keys: dict[str, str] = {}
    for bench, gen_key in store.gen_keys(key):
        if bench in cell_keys:
            raise DataError(
                f"{key} has {bench} completions under several settings", "a report counts one settings per benchmark; `transferlab results` lists each"
            )
        cell_keys[bench] = gen_key
    cell_keys, groups = _paper_groups(store, cell_keys)
    model = ModelEntry(key.split("@", 1)[0], key, "base")
    _, cells, notes = _read_cells(store, (model,), cell_keys, groups, scoring, confidence, n_resamples, seed)
    settings, differences = _store_settings(store, (model,), cell_keys)
    return StudyAnalysis(
        title=model.name,
        models=(model,),
        benchmarks=_in_group_order(cell_keys, groups),
        groups=groups,
        cells=cells,
        pairs=(),
        settings=settings,
        differences=tuple(differences),
        notes=(f"one model in the store ({key}): results only, no pair to compare", *notes),
        confidence=confidence,
    )


def _in_group_order(benchmarks: Mapping[str, str], groups: Mapping[str, Group]) -> tuple[str, ...]:
    return tuple(sorted(benchmarks, key=lambda b: (GROUPS.index(groups[b]), b)))


def _read_cells(
    store: Store,
    models: Sequence[ModelEntry],
    cell_keys: Mapping[str, str],
    groups: Mapping[str, Group],
    scoring: ScorerChoice,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> tuple[dict[tuple[str, str], ScoresByItem], dict[tuple[str, str], Cell], list[str]]:
    """Per-item scores and cells of every model on every ``{benchmark: gen_key}``, with notes for
    cells that hold completions but no verdict."""
    items: dict[tuple[str, str], ScoresByItem] = {}
    cells: dict[tuple[str, str], Cell] = {}
    notes: list[str] = []
    for m in models:
        for b, gk in cell_keys.items():
            by_item, rows = read_cell_rows(store, m.key, b, gk, None, scoring)
            if by_item:
                items[(m.name, b)] = by_item
                cells[(m.name, b)] = cell_summary(m.name, b, groups[b], gk, by_item, rows, confidence, n_resamples, seed)
            elif rows:
                notes.append(f"{m.name} on {b}: {len(rows)} completions, none scored (run `transferlab score`)")
    return items, cells, notes


def _store_settings(store: Store, models: Sequence[ModelEntry], cell_keys: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The generation settings read (the most common ones, and each benchmark's own where they
    differ), per model its dtype and versions; and the differences found (other settings stored
    beside those read, dtypes or library versions that differ between models)."""
    per_bench = {b: store.gen_settings(gk) or {} for b, gk in cell_keys.items()}
    counts = Counter(json.dumps(v, sort_keys=True) for v in per_bench.values())
    common: dict[str, Any] = json.loads(counts.most_common(1)[0][0]) if counts else {}
    overrides = {b: {k: v for k, v in s.items() if common.get(k) != v} for b, s in per_bench.items() if s != common}
    per_model = model_settings(store, models, list(cell_keys))
    differences = [
        f"{m.name} on {b}: completions under other settings ({gk}) (not used here)"
        for m in models
        for b, gk in store.gen_keys(m.key)
        if b in cell_keys and gk != cell_keys[b]
    ]
    return {"generation": common, "generation_overrides": overrides, "models": per_model}, differences + version_differences(per_model)
