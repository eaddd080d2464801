"""Everything a report shows, computed once: scores, paired deltas and tests, TI v1 and v2 with CIs.

Two entry points give the same :class:`StudyAnalysis`:

- :func:`analyse_store`: per-item scores from the store (grouped by model, benchmark and settings
  key; only the study's settings are used), so every number gets a paired-bootstrap interval;
- :func:`analyse_scores`: per-benchmark scores from outside (a CSV), points only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from transferlab.benchmarks import REGISTRY
from transferlab.errors import ConfigError, DataError, TransferlabError
from transferlab.groups import GROUPS, Group
from transferlab.metrics import estimate
from transferlab.options import TI_VERSIONS
from transferlab.store import Store
from transferlab.study.run import expected_gen_key, study_settings_differences
from transferlab.study.spec import StudySpec
from transferlab.transfer.stats import paired_bootstrap_delta, paired_permutation_test, ti_bootstrap
from transferlab.transfer.ti import DEFAULT_DDOF, TRANSFER_GROUPS, TransferIndex, resolve_groups, study_sigma, transfer_index

ScoresByItem = dict[str, list[float]]


@dataclass(frozen=True)
class ModelEntry:
    """A model of the study: its table name, store key, training method and base (tuned only)."""

    name: str
    key: str
    training: str
    base: str | None = None


@dataclass(frozen=True)
class Cell:
    """One model on one benchmark. Accuracy and CI in percent; ``truncated_rate`` in percent of
    completions that hit the token budget; ``mean_tokens`` per completion (None when unknown)."""

    model: str
    benchmark: str
    group: Group
    accuracy: float
    low: float | None = None
    high: float | None = None
    n_items: int = 0
    samples_per_item: int = 0
    truncated_rate: float | None = None
    mean_tokens: float | None = None
    unscored: int = 0
    gen_key: str = ""


@dataclass(frozen=True)
class DeltaRow:
    """``tuned - base`` on one benchmark (points) with its CI and the paired test's p-value."""

    benchmark: str
    group: Group
    base: float
    tuned: float
    delta: float
    low: float | None = None
    high: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class TIRow:
    """TI of one version: the point estimate, the CI of each transfer group, and the status."""

    version: str
    point: TransferIndex | None
    ci: dict[Group, tuple[float, float] | None] = field(default_factory=dict)
    status: str = ""
    error: str | None = None


@dataclass(frozen=True)
class PairResult:
    """A tuned model against its base."""

    tuned: str
    base: str
    training: str
    deltas: tuple[DeltaRow, ...]
    group_delta: dict[Group, tuple[float, float | None, float | None]]
    ti: dict[str, TIRow]


@dataclass(frozen=True)
class StudyAnalysis:
    """What the report renders. ``cells`` is keyed by (model name, benchmark)."""

    title: str
    models: tuple[ModelEntry, ...]
    benchmarks: tuple[str, ...]
    groups: dict[str, Group]
    cells: dict[tuple[str, str], Cell]
    pairs: tuple[PairResult, ...]
    primary_version: str = "v2"
    sigma: dict[Group, float] | None = None
    sigma_source: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    differences: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    with_intervals: bool = True
    confidence: float = 0.95


# --- reading per-item scores ------------------------------------------------------------------------


def _scorer_for(benchmark: str) -> str | None:
    bench = REGISTRY.get(benchmark)
    return getattr(bench, "scorer", None)


def read_cell_rows(store: Store, model_key: str, benchmark: str, gen_key: str, max_samples: int | None = None) -> tuple[ScoresByItem, list[dict[str, Any]]]:
    """Per-item sample scores (fractions) of one (model, benchmark, settings) cell, and its
    completions (one row each, for truncation and length). ``max_samples`` keeps sample indices
    below it, so a study with k samples uses exactly k even where the store holds more."""
    wanted = _scorer_for(benchmark)
    completions: dict[str, dict[str, Any]] = {}
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for row in store.verdict_rows(model_key, benchmark, gen_key, max_samples=max_samples):  # no texts, streamed
        completions.setdefault(row["key"], row)
        if row["scorer"] is not None:
            scores[row["scorer"]][row["key"]] = float(row["score"])
    scorer = wanted if wanted in scores else (next(iter(scores)) if len(scores) == 1 else None)
    chosen = scores.get(scorer, {}) if scorer else {}
    by_item: ScoresByItem = defaultdict(list)
    for key, row in completions.items():
        if key in chosen:
            by_item[row["item_id"]].append(chosen[key])
    return dict(by_item), list(completions.values())


def gen_keys(store: Store, model_key: str, benchmark: str) -> list[str]:
    """The settings keys this model has completions under for this benchmark."""
    return sorted(gen_key for bench, gen_key in store.gen_keys(model_key) if bench == benchmark)


def study_gen_key(store: Store, spec: StudySpec | None, model_key: str, benchmark: str) -> str | None:
    """The settings key to read: the study's (when the benchmark is registered), else the only
    one stored; None when the model has nothing for the benchmark."""
    if spec is not None and benchmark in REGISTRY:
        return expected_gen_key(REGISTRY[benchmark], spec.generation_for(benchmark))
    keys = gen_keys(store, model_key, benchmark)
    if len(keys) > 1:
        raise DataError(f"{model_key} has {benchmark} completions under {len(keys)} settings", "pass --spec to choose the study's settings")
    return keys[0] if keys else None


def _cell(
    name: str, benchmark: str, group: Group, gen_key: str, by_item: ScoresByItem, rows: list[dict[str, Any]], confidence: float, n_resamples: int, seed: int
) -> Cell:
    low: float | None
    high: float | None
    if n_resamples > 0:
        est = estimate(by_item, confidence=confidence, n_resamples=n_resamples, seed=seed)
        low, high = 100 * est.low, 100 * est.high
    else:  # the score alone (a model only counted towards σ): no interval
        est = estimate(by_item, confidence=confidence, n_resamples=1, seed=seed)
        low = high = None
    generated = [r for r in rows if r["finish_reason"] != "loglikelihood"]
    tokens = [r["completion_tokens"] for r in generated if r["completion_tokens"] is not None]
    return Cell(
        model=name,
        benchmark=benchmark,
        group=group,
        accuracy=100 * est.value,
        low=low,
        high=high,
        n_items=est.n_items,
        samples_per_item=min((len(v) for v in by_item.values()), default=0),
        truncated_rate=100 * sum(r["finish_reason"] == "length" for r in generated) / len(generated) if generated else None,
        mean_tokens=sum(tokens) / len(tokens) if tokens else None,
        unscored=len(rows) - sum(len(v) for v in by_item.values()),
        gen_key=gen_key,
    )


# --- the store path ------------------------------------------------------------------------------------


def analyse_store(
    store: Store,
    spec: StudySpec,
    model_keys: Mapping[str, str],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    only_pairs: Sequence[str] | None = None,
) -> StudyAnalysis:
    """Scores with CIs, paired deltas and tests, σ from the study's population, TI v1 and v2 with CIs.

    ``only_pairs``: bootstrap only these tuned models and their bases (every score still counts
    towards σ; the other models' cells hold their scores without intervals), so the time of one pair's
    TI does not grow with the number of models in the study."""
    groups = spec.resolved_groups()
    benchmarks = tuple(sorted(spec.benchmarks, key=lambda b: (GROUPS.index(groups[b]), spec.benchmarks.index(b))))
    models = tuple(ModelEntry(m.name, model_keys[m.name], m.training, m.base) for m in spec.models if m.name in model_keys)
    notes = [f"{m.name}: not in the store yet (run `transferlab study run`)" for m in spec.models if m.name not in model_keys]
    items: dict[tuple[str, str], ScoresByItem] = {}
    cells: dict[tuple[str, str], Cell] = {}
    wanted = None if only_pairs is None else {n for m in models if m.name in only_pairs for n in (m.name, m.base)}
    for m in models:
        resamples = n_resamples if wanted is None or m.name in wanted else 0
        for b in benchmarks:
            gk = study_gen_key(store, spec, m.key, b)
            by_item, rows = read_cell_rows(store, m.key, b, gk, spec.generation_for(b).samples) if gk else ({}, [])
            if by_item:
                items[(m.name, b)] = by_item
                cells[(m.name, b)] = _cell(m.name, b, groups[b], gk or "", by_item, rows, confidence, resamples, seed)
            elif rows:
                notes.append(f"{m.name} on {b}: {len(rows)} completions, none scored (run `transferlab score`)")
    sigma, source, sigma_note = _study_sigma(spec, models, cells, groups)
    notes += sigma_note
    sigma_error = sigma_note[0] if sigma_note else "σ could not be set"
    pairs = tuple(
        _pair_result(spec, m, items, cells, groups, sigma, sigma_error, confidence, n_resamples, seed)
        for m in models
        if m.base is not None and any(x.name == m.base for x in models) and (only_pairs is None or m.name in only_pairs)
    )
    return StudyAnalysis(
        title=spec.name,
        models=models,
        benchmarks=benchmarks,
        groups=groups,
        cells=cells,
        pairs=pairs,
        primary_version=spec.ti.version,
        sigma=sigma,
        sigma_source=source,
        settings=_settings(store, spec, models),
        differences=tuple(_differences(store, spec, models)),
        notes=tuple(notes),
        with_intervals=True,
        confidence=confidence,
    )


def _scores_table(cells: Mapping[tuple[str, str], Cell]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for (model, bench), cell in cells.items():
        table[model][bench] = cell.accuracy
    return table


def _study_sigma(
    spec: StudySpec, models: Sequence[ModelEntry], cells: Mapping[tuple[str, str], Cell], groups: Mapping[str, Group]
) -> tuple[dict[Group, float] | None, str, list[str]]:
    """σ_g over the population of pairs (default: every tuned model of the study), points; with
    the note that says why it could not be computed (then only the explicit σ, if any)."""
    names = {m.name for m in models}
    chosen = spec.ti.population or tuple(m.name for m in models if m.base is not None)
    population = [(t, spec.model(t).base) for t in chosen if t in names and spec.model(t).base in names]
    scores = _scores_table(cells)
    population = [(t, b) for t, b in population if t in scores and b in scores]
    explicit = dict(spec.ti.sigma)
    try:
        sigma, source = study_sigma(scores, [(t, str(b)) for t, b in population], groups, explicit=explicit, ddof=spec.ti.ddof)
    except TransferlabError as err:
        return (explicit or None), "given" if explicit else "", [f"σ from the population: {err}"]
    return sigma, source, []


def _pair_result(
    spec: StudySpec,
    tuned: ModelEntry,
    items: Mapping[tuple[str, str], ScoresByItem],
    cells: Mapping[tuple[str, str], Cell],
    groups: Mapping[str, Group],
    sigma: dict[Group, float] | None,
    sigma_error: str,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> PairResult:
    base = tuned.base or ""
    shared = [b for b in groups if (tuned.name, b) in items and (base, b) in items]
    shared.sort(key=lambda b: (GROUPS.index(groups[b]), b))
    deltas = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unpaired items are reported by the per-item counts
        for b in shared:
            d = paired_bootstrap_delta(items[(base, b)], items[(tuned.name, b)], confidence=confidence, n_resamples=n_resamples, seed=seed)
            t = paired_permutation_test(items[(base, b)], items[(tuned.name, b)], seed=seed)
            deltas.append(DeltaRow(b, groups[b], d.base, d.tuned, d.delta, d.low, d.high, t.p_value))
        ti: dict[str, TIRow] = {}
        group_delta: dict[Group, tuple[float, float | None, float | None]] = {}
        for version in TI_VERSIONS:
            if version == "v2" and sigma is None:
                ti[version] = TIRow(version, None, status="not computed", error=sigma_error)
                continue
            try:
                boot = ti_bootstrap(
                    {b: items[(base, b)] for b in shared},
                    {b: items[(tuned.name, b)] for b in shared},
                    dict(groups),
                    version=version,
                    sigma=sigma if version == "v2" else None,
                    ddof=spec.ti.ddof,
                    min_math_gain=spec.ti.min_math_gain if version == spec.ti.version else None,
                    confidence=confidence,
                    n_resamples=n_resamples,
                    seed=seed,
                )
            except TransferlabError as err:
                ti[version] = TIRow(version, None, status="not computed", error=str(err))
                continue
            point = _named(boot.point, base, tuned.name)
            ti[version] = TIRow(version, point, dict(boot.ti_ci), boot.status)
            for g, v in (boot.group_delta or {}).items():
                lo, hi = (boot.group_delta_ci or {}).get(g, (None, None))
                group_delta[g] = (v, lo, hi)
    return PairResult(tuned.name, base, tuned.training, tuple(deltas), group_delta, ti)


def _named(point: TransferIndex, base: str, tuned: str) -> TransferIndex:
    return dataclasses.replace(point, base_model=base, tuned_model=tuned)


def _runs_of(store: Store, key: str, benchmarks: Sequence[str]) -> list[dict[str, Any]]:
    return [r for r in store.runs() if r["model_key"] == key and set(json.loads(r["benchmarks"])) & set(benchmarks)]


def _settings(store: Store, spec: StudySpec, models: Sequence[ModelEntry]) -> dict[str, Any]:
    """The study's generation settings, and per model its key, dtype and the library versions of its runs."""
    info = {r["model_key"]: json.loads(r["info"]) for r in store.models()}
    per_model = {}
    for m in models:
        runs = _runs_of(store, m.key, spec.benchmarks)
        versions = json.loads(runs[-1]["versions"]) if runs else {}
        per_model[m.name] = {"key": m.key, "dtype": info.get(m.key, {}).get("dtype"), "versions": versions, "runs": len(runs)}
    return {"generation": spec.generation.to_dict(), "generation_overrides": spec.generation_overrides, "models": per_model}


def _differences(store: Store, spec: StudySpec, models: Sequence[ModelEntry]) -> list[str]:
    """Every difference of settings found: other settings stored beside the study's, and library
    versions or dtypes that differ between the study's models."""
    found: list[str] = []
    for m in models:
        found += [f"{d} (not used here)" for d in study_settings_differences(store, m.key, spec)]
    settings = _settings(store, spec, models)["models"]
    for getter in (lambda s: {"dtype": s["dtype"]}, lambda s: s["versions"]):
        values: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for name, s in settings.items():
            for lib, version in getter(s).items():
                values[lib][str(version)].append(name)
        for lib, by_value in sorted(values.items()):
            if len(by_value) > 1:
                found.append(f"{lib} differs between models: " + "; ".join(f"{v}: {', '.join(n)}" for v, n in sorted(by_value.items())))
    return found


# --- the outside-scores path ---------------------------------------------------------------------------


def analyse_scores(
    scores: Mapping[str, Mapping[str, float]],
    pairs: Sequence[tuple[str, str]],
    groups: Mapping[str, Group] | None = None,
    *,
    training: Mapping[str, str] | None = None,
    version: str = "v2",
    sigma: Mapping[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    title: str = "scores",
) -> StudyAnalysis:
    """The same analysis from per-benchmark scores (percent): points, no intervals."""
    if not pairs:
        raise ConfigError("no (tuned, base) pair given", "pass --pairs TUNED:BASE,... or a --spec naming bases")
    names = sorted({b for s in scores.values() for b in s})
    resolved = resolve_groups(names, groups)
    benchmarks = tuple(sorted(names, key=lambda b: (GROUPS.index(resolved[b]), b)))
    training = dict(training or {})
    tuned_of = dict(pairs)
    models = tuple(ModelEntry(n, n, training.get(n, "other" if n in tuned_of else "base"), tuned_of.get(n)) for n in scores)
    cells = {(m, b): Cell(m, b, resolved[b], float(v)) for m, s in scores.items() for b, v in s.items()}
    notes: list[str] = ["scores from outside the store: points only, no intervals"]
    explicit = dict(sigma or {})
    pair_sigma: dict[Group, float] | None
    try:
        pair_sigma, source = study_sigma(scores, list(pairs), resolved, explicit=explicit, ddof=ddof)
    except TransferlabError as err:
        pair_sigma, source = explicit or None, "given" if explicit else ""
        notes.append(f"σ from the population: {err}")
    results = tuple(_points_pair(scores, t, b, resolved, training.get(t, "other"), pair_sigma) for t, b in pairs)
    return StudyAnalysis(
        title=title,
        models=models,
        benchmarks=benchmarks,
        groups=resolved,
        cells=cells,
        pairs=results,
        primary_version=version,
        sigma=pair_sigma,
        sigma_source=source,
        notes=tuple(notes),
        with_intervals=False,
    )


def _points_pair(
    scores: Mapping[str, Mapping[str, float]], tuned: str, base: str, groups: Mapping[str, Group], training: str, sigma: dict[Group, float] | None
) -> PairResult:
    for name in (tuned, base):
        if name not in scores:
            raise DataError(f"model {name!r} has no scores", f"known models: {', '.join(sorted(scores))}")
    shared = sorted(set(scores[tuned]) & set(scores[base]), key=lambda b: (GROUPS.index(groups[b]), b))
    deltas = tuple(DeltaRow(b, groups[b], float(scores[base][b]), float(scores[tuned][b]), float(scores[tuned][b]) - float(scores[base][b])) for b in shared)
    group_delta: dict[Group, tuple[float, float | None, float | None]] = {}
    for g in GROUPS:
        values = [d.delta for d in deltas if d.group == g]
        if values:
            group_delta[g] = (sum(values) / len(values), None, None)
    ti: dict[str, TIRow] = {}
    for version in TI_VERSIONS:
        if version == "v2" and sigma is None:
            ti[version] = TIRow(version, None, status="not computed", error="σ could not be set (see the notes)")
            continue
        try:
            point = transfer_index(
                {b: scores[base][b] for b in shared},
                {b: scores[tuned][b] for b in shared},
                dict(groups),
                version=version,
                sigma=sigma if version == "v2" else None,
                base_model=base,
                tuned_model=tuned,
            )
            ti[version] = TIRow(version, point, {g: None for g in TRANSFER_GROUPS}, point.status)
        except TransferlabError as err:
            ti[version] = TIRow(version, None, status="not computed", error=str(err))
    return PairResult(tuned, base, training, deltas, group_delta, ti)


def is_finite(value: float | None) -> TypeGuard[float]:
    """True for a real, finite number."""
    return value is not None and math.isfinite(value)
