"""Everything a report shows, computed once: scores, paired deltas and tests, TI v1 and v2 with CIs.

Two entry points give the same :class:`StudyAnalysis`:

- :func:`analyse_store`: per-item scores from the store (grouped by model, benchmark and settings
  key; only the study's settings are used; each cell counts the verdicts of the scorer a
  :class:`~transferlab.pipeline.results.ScorerChoice` picks, as ``results`` does), so every number
  gets a paired-bootstrap interval (:func:`transferlab.transfer.from_store.analyse_pair` does the
  same for any two models of a store);
- :func:`transferlab.transfer.scores.analyse_scores`: per-benchmark scores from outside (a CSV), points only.
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

from transferlab.benchmarks import REGISTRY, get_benchmark
from transferlab.errors import DataError, TransferlabError
from transferlab.groups import GROUPS, Group
from transferlab.metrics import estimate
from transferlab.options import TI_VERSIONS, TIVersion
from transferlab.pipeline.results import DEFAULT_SCORING, ScorerChoice
from transferlab.store import Store
from transferlab.study.run import expected_gen_key, study_settings_differences
from transferlab.study.spec import StudySpec, TISettings
from transferlab.transfer.sigma import study_sigma
from transferlab.transfer.stats import paired_bootstrap_delta, paired_permutation_test, ti_bootstrap
from transferlab.transfer.ti import TransferIndex

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


def read_cell_rows(
    store: Store, model_key: str, benchmark: str, gen_key: str, max_samples: int | None = None, scoring: ScorerChoice = DEFAULT_SCORING
) -> tuple[ScoresByItem, list[dict[str, Any]]]:
    """Per-item sample scores (fractions) of one (model, benchmark, settings) cell, counted with the
    scorer ``scoring`` chooses, and its completions (one row each, for truncation and length).
    ``max_samples`` keeps sample indices below it, so a study with k samples uses exactly k even
    where the store holds more."""
    definitions = store.benchmark_definitions() if benchmark not in REGISTRY else None
    scorer = scoring.for_cell(store, (model_key, benchmark, gen_key), definitions, max_samples=max_samples)
    rows = list(store.verdict_rows(model_key, benchmark, gen_key, scorers=[scorer] if scorer else [], max_samples=max_samples))  # no texts
    by_item: ScoresByItem = defaultdict(list)
    for row in rows:
        if row["score"] is not None:
            by_item[row["item_id"]].append(float(row["score"]))
    return dict(by_item), rows


def gen_keys(store: Store, model_key: str, benchmark: str) -> list[str]:
    """The settings keys this model has completions under for this benchmark."""
    return sorted(gen_key for bench, gen_key in store.gen_keys(model_key) if bench == benchmark)


def _imported(store: Store, gen_key: str) -> bool:
    """True for the settings key of imported completions."""
    return "imported" in (store.gen_settings(gen_key) or {})


def study_gen_key(store: Store, spec: StudySpec | None, model_key: str, benchmark: str) -> str | None:
    """The settings key to read: the study's (when the benchmark is registered), else the only
    one stored; None when the model has nothing for the benchmark. A model whose completions of the
    benchmark were all imported (``transferlab import``) is read under its one imported key."""
    keys = gen_keys(store, model_key, benchmark)
    definitions = store.benchmark_definitions()
    if spec is not None and (benchmark in REGISTRY or benchmark in definitions):
        expected = expected_gen_key(get_benchmark(benchmark, definitions), spec.generation_for(benchmark))
        if expected in keys or not keys or not all(_imported(store, k) for k in keys):
            return expected
    if len(keys) > 1:
        raise DataError(f"{model_key} has {benchmark} completions under {len(keys)} settings", "pass --spec to choose the study's settings")
    return keys[0] if keys else None


def cell_summary(
    name: str, benchmark: str, group: Group, gen_key: str, by_item: ScoresByItem, rows: list[dict[str, Any]], confidence: float, n_resamples: int, seed: int
) -> Cell:
    """One model on one benchmark: accuracy with its bootstrap CI over items (``low``/``high`` None
    when ``n_resamples`` is 0: a model only counted towards σ), truncation and length."""
    low: float | None
    high: float | None
    if n_resamples > 0:
        est = estimate(by_item, confidence=confidence, n_resamples=n_resamples, seed=seed)
        low, high = 100 * est.low, 100 * est.high
    else:  # the score alone: no interval
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
    scoring: ScorerChoice = DEFAULT_SCORING,
    versions: Sequence[TIVersion] = TI_VERSIONS,
) -> StudyAnalysis:
    """Scores with CIs, paired deltas and tests, σ from the study's population, TI (``versions``) with CIs.

    ``only_pairs``: bootstrap only these tuned models and their bases (every score still counts
    towards σ; the other models' cells hold their scores without intervals), so the time of one pair's
    TI does not grow with the number of models in the study; ``scoring``: whose verdicts count
    (``--paper-scoring``, ``--math-grader``)."""
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
            by_item, rows = read_cell_rows(store, m.key, b, gk, spec.generation_for(b).samples, scoring) if gk else ({}, [])
            if by_item:
                items[(m.name, b)] = by_item
                cells[(m.name, b)] = cell_summary(m.name, b, groups[b], gk or "", by_item, rows, confidence, resamples, seed)
            elif rows:
                notes.append(f"{m.name} on {b}: {len(rows)} completions, none scored (run `transferlab score`)")
    sigma, source, sigma_note = _study_sigma(spec, models, cells, groups)
    notes += sigma_note
    sigma_about = source if sigma is not None else (sigma_note[0] if sigma_note else "σ could not be set")
    pairs = tuple(
        pair_result(spec.ti, m, items, cells, groups, sigma, sigma_about, confidence, n_resamples, seed, versions)
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


def pair_result(
    ti_settings: TISettings,
    tuned: ModelEntry,
    items: Mapping[tuple[str, str], ScoresByItem],
    cells: Mapping[tuple[str, str], Cell],
    groups: Mapping[str, Group],
    sigma: dict[Group, float] | None,
    sigma_about: str,
    confidence: float,
    n_resamples: int,
    seed: int,
    versions: Sequence[TIVersion] = TI_VERSIONS,
) -> PairResult:
    """``tuned`` against its base on the benchmarks both have items for: paired deltas with CIs and
    tests, and TI (``versions``) with CIs under ``ti_settings`` and ``sigma``; ``sigma_about`` says
    where ``sigma`` came from, or why v2 is not computed when it is None."""
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
        for version in versions:
            if version == "v2" and sigma is None:
                ti[version] = TIRow(version, None, status="not computed", error=sigma_about)
                continue
            try:
                boot = ti_bootstrap(
                    {b: items[(base, b)] for b in shared},
                    {b: items[(tuned.name, b)] for b in shared},
                    dict(groups),
                    version=version,
                    sigma=sigma if version == "v2" else None,
                    ddof=ti_settings.ddof,
                    min_math_gain=ti_settings.min_math_gain if version == ti_settings.version else None,
                    confidence=confidence,
                    n_resamples=n_resamples,
                    seed=seed,
                )
            except TransferlabError as err:
                ti[version] = TIRow(version, None, status="not computed", error=str(err))
                continue
            point = dataclasses.replace(boot.point, base_model=base, tuned_model=tuned.name, sigma_source=sigma_about if version == "v2" else "")
            ti[version] = TIRow(version, point, dict(boot.ti_ci), boot.status)
            for g, v in (boot.group_delta or {}).items():
                lo, hi = (boot.group_delta_ci or {}).get(g, (None, None))
                group_delta[g] = (v, lo, hi)
    return PairResult(tuned.name, base, tuned.training, tuple(deltas), group_delta, ti)


def _runs_of(store: Store, key: str, benchmarks: Sequence[str]) -> list[dict[str, Any]]:
    return [r for r in store.runs() if r["model_key"] == key and set(json.loads(r["benchmarks"])) & set(benchmarks)]


def model_settings(store: Store, models: Sequence[ModelEntry], benchmarks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per model: its key, dtype, and the library versions and count of its runs on ``benchmarks``."""
    info = {r["model_key"]: json.loads(r["info"]) for r in store.models()}
    per_model = {}
    for m in models:
        runs = _runs_of(store, m.key, benchmarks)
        versions = json.loads(runs[-1]["versions"]) if runs else {}
        per_model[m.name] = {"key": m.key, "dtype": info.get(m.key, {}).get("dtype"), "versions": versions, "runs": len(runs)}
    return per_model


def _settings(store: Store, spec: StudySpec, models: Sequence[ModelEntry]) -> dict[str, Any]:
    """The study's generation settings, and per model its key, dtype and the library versions of its runs."""
    per_model = model_settings(store, models, spec.benchmarks)
    return {"generation": spec.generation.to_dict(), "generation_overrides": spec.generation_overrides, "models": per_model}


def _differences(store: Store, spec: StudySpec, models: Sequence[ModelEntry]) -> list[str]:
    """Every difference of settings found: other settings stored beside the study's, and library
    versions or dtypes that differ between the study's models."""
    found: list[str] = []
    for m in models:
        found += [f"{d} (not used here)" for d in study_settings_differences(store, m.key, spec)]
    return found + version_differences(model_settings(store, models, spec.benchmarks))


def version_differences(per_model: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The dtypes and library versions that differ between models (``per_model`` as :func:`model_settings`)."""
    found: list[str] = []
    for getter in (lambda s: {"dtype": s["dtype"]}, lambda s: s["versions"]):
        values: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for name, s in per_model.items():
            for lib, version in getter(s).items():
                values[lib][str(version)].append(name)
        for lib, by_value in sorted(values.items()):
            if len(by_value) > 1:
                found.append(f"{lib} differs between models: " + "; ".join(f"{v}: {', '.join(n)}" for v, n in sorted(by_value.items())))
    return found


def is_finite(value: float | None) -> TypeGuard[float]:
    """True for a real, finite number."""
    return value is not None and math.isfinite(value)
