"""A training's trajectory: every kept checkpoint evaluated like any model, then per group and step
the accuracy, the change against the base, the paired test, and TI, each with its interval.

The trajectory is an ordinary study (:class:`~transferlab.study.StudySpec`): the base, and one
tuned model per checkpoint named ``<run>-step<STEP>``, run by :func:`~transferlab.study.run_study`
through the one backend factory into the store. A checkpoint is keyed by its weights
(:func:`~transferlab.models.model_fingerprint`), so a rerun, or a checkpoint whose weights are
those of a model evaluated before (the last checkpoint is the finished model), generates nothing
again. The numbers come from :func:`~transferlab.transfer.analysis.analyse_store` (deltas, TI and
their paired-bootstrap CIs), :func:`~transferlab.transfer.stats.group_accuracy` and the paired
sign-flip test on each group's pooled items, Holm-corrected over the steps of one run
(:mod:`transferlab.transfer.trajectory`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transferlab.dynamics.checkpoints import TrainingRun
from transferlab.groups import GROUPS, Group
from transferlab.store import Store
from transferlab.study.run import run_study, study_for_store
from transferlab.study.spec import StudySpec, parse_spec
from transferlab.transfer.analysis import StudyAnalysis, analyse_store, read_cell_rows, study_gen_key
from transferlab.transfer.stats import group_accuracy, paired_permutation_test
from transferlab.transfer.ti import STATUS_UNDEFINED, TRANSFER_GROUPS
from transferlab.transfer.trajectory import first_significant_drop, holm, pooled_items

ScoresByItem = dict[str, list[float]]
BASE_NAME = "base"
TEST = "paired sign-flip test (transfer.stats.paired_permutation_test) on the group's items pooled over its benchmarks, two-sided"
CORRECTION = "Holm over the checkpoints of one training, per group"


def model_name(run: str, step: int) -> str:
    """The study name of a checkpoint: ``<run>-step<STEP>``."""
    return f"{run}-step{step}"


def _source(model: str) -> dict[str, str]:
    return {"path": str(Path(model).resolve())} if Path(model).exists() else {"hf": model}


def trajectory_spec(
    runs: Sequence[TrainingRun],
    base: str,
    benchmarks: Sequence[str],
    *,
    name: str,
    generation: Mapping[str, Any],
    backend: Mapping[str, Any],
    limit: int | None = None,
    data_dir: str | None = None,
    groups: Mapping[str, str] | None = None,
    sigma: Mapping[Group, float] | None = None,
) -> StudySpec:
    """The study of a trajectory: the base and every checkpoint of every run against it.

    TI v2's σ is the study's (``sigma``) when given, else the spread of the finished models' deltas
    (the population is each run's last checkpoint): one σ for every step, so TI is comparable
    along the trajectory and with a study of the finished models.
    """
    models: list[dict[str, Any]] = [{"name": BASE_NAME, **_source(base), "training": "base"}]
    for run in runs:
        for c in run.checkpoints:
            models.append({"name": model_name(run.label, c.step), "path": str(c.path.resolve()), "base": BASE_NAME, "training": run.training})
    ti: dict[str, Any] = {"version": "v2", "ddof": 1}
    if sigma:
        ti["sigma"] = dict(sigma)
    else:
        ti["population"] = [model_name(r.label, r.final_step) for r in runs]
    data = {
        "name": name,
        "description": "checkpoints of " + ", ".join(f"{r.label} ({r.training}, {len(r.checkpoints)} checkpoints)" for r in runs),
        "models": models,
        "benchmarks": list(benchmarks),
        "groups": dict(groups or {}),
        "generation": dict(generation),
        "backend": dict(backend),
        "limit": limit,
        "data_dir": data_dir,
        "ti": ti,
    }
    return parse_spec(data, where=f"trajectory {name!r}")


def evaluate_trajectory(spec: StudySpec, store_path: Path, *, show_progress: bool | None = None, argv: Sequence[str] | None = None) -> list[Any]:
    """Generate and score what the store lacks, model by model (resumable)."""
    with Store(store_path) as store:
        return run_study(spec, store, show_progress=show_progress, argv=argv)


def study_items(store: Store, spec: StudySpec, keys: Mapping[str, str]) -> dict[tuple[str, str], ScoresByItem]:
    """Per-item sample scores of every (model name, benchmark) cell the store holds under the study's settings."""
    out = {}
    for name, key in keys.items():
        for b in spec.benchmarks:
            gk = study_gen_key(store, spec, key, b)
            if gk:
                by_item, _ = read_cell_rows(store, key, b, gk, spec.generation_for(b).samples)
                if by_item:
                    out[(name, b)] = by_item
    return out


def _triple(value: float | None, low: float | None, high: float | None) -> list[float | None]:
    return [value, low, high]


def _accuracy(items: Mapping[tuple[str, str], ScoresByItem], spec: StudySpec, model: str, n_resamples: int, seed: int) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for g in GROUPS:
        cells = {b: items[(model, b)] for b in spec.benchmarks if spec.group_of(b) == g and (model, b) in items}
        if cells:
            out[g] = _triple(*group_accuracy(cells, n_resamples=n_resamples, seed=seed))
    return out


def _group_p(items: Mapping[tuple[str, str], ScoresByItem], spec: StudySpec, model: str, seed: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for g in GROUPS:
        names = [b for b in spec.benchmarks if spec.group_of(b) == g and (model, b) in items and (BASE_NAME, b) in items]
        if names:
            base = pooled_items({b: items[(BASE_NAME, b)] for b in names})
            tuned = pooled_items({b: items[(model, b)] for b in names})
            out[g] = paired_permutation_test(base, tuned, seed=seed).p_value
    return out


def _point(
    analysis: StudyAnalysis, items: Mapping[tuple[str, str], ScoresByItem], spec: StudySpec, model: str, step: int, n_resamples: int, seed: int
) -> dict[str, Any]:
    pair = next((p for p in analysis.pairs if p.tuned == model), None)
    point: dict[str, Any] = {"step": step, "model": model, "accuracy": _accuracy(items, spec, model, n_resamples, seed)}
    if pair is None:
        return point
    row = pair.ti.get(analysis.primary_version)
    ti: dict[str, dict[str, Any]] = {g: {"value": None, "ci": None} for g in TRANSFER_GROUPS}
    if row is not None and row.point is not None and row.status != STATUS_UNDEFINED:
        for g in TRANSFER_GROUPS:
            ci = row.ci.get(g)
            ti[g] = {"value": row.point.ti.get(g), "ci": None if ci is None else list(ci)}
    point.update(
        delta={g: _triple(*v) for g, v in pair.group_delta.items()},
        p_value=_group_p(items, spec, model, seed),
        ti=ti,
        ti_status=row.status if row else "not computed",
    )
    return point


def analyse_trajectory(
    store_path: Path,
    spec: StudySpec,
    runs: Sequence[TrainingRun],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
    analysis: StudyAnalysis | None = None,
) -> dict[str, Any]:
    """The trajectory as JSON-ready data: per run, one point per step (step 0 is the base) with
    per-group ``accuracy``, ``delta`` (points, vs the base), ``p_value`` and ``p_holm`` (the group
    test, Holm-corrected over the run's steps), ``ti`` (value and CI per transfer group) and
    ``ti_status``; and per run ``first_drop``: the first step each group fell significantly below
    the base (None: never). Values in percent and points, intervals at ``confidence``. ``analysis``:
    the study's :func:`~transferlab.transfer.analysis.analyse_store`, when already computed."""
    with Store(store_path, readonly=True) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # items only one model has are counted in the analysis' notes
        _, keys = study_for_store(store, name=spec.name)
        if analysis is None:
            analysis = analyse_store(store, spec, keys, n_resamples=n_resamples, seed=seed, confidence=confidence)
        items = study_items(store, spec, keys)
        base_point = {"step": 0, "model": BASE_NAME, "accuracy": _accuracy(items, spec, BASE_NAME, n_resamples, seed)}
        out_runs = {}
        for run in runs:
            points = [_point(analysis, items, spec, model_name(run.label, c.step), c.step, n_resamples, seed) for c in run.checkpoints]
            first_drop = {}
            for g in GROUPS:
                tested = [p for p in points if g in p.get("p_value", {})]
                adjusted = holm([p["p_value"][g] for p in tested])
                for p, value in zip(tested, adjusted):
                    p.setdefault("p_holm", {})[g] = float(value)
                first_drop[g] = first_significant_drop([p["step"] for p in tested], [p["delta"][g][0] for p in tested], adjusted, alpha)
            out_runs[run.label] = {"training": run.training, "final_step": run.final_step, "points": [base_point, *points], "first_drop": first_drop}
    return {
        "study": spec.name,
        "version": analysis.primary_version,
        "sigma": analysis.sigma,
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": seed,
        "alpha": alpha,
        "test": TEST,
        "correction": CORRECTION,
        "runs": out_runs,
        "notes": list(analysis.notes),
    }
