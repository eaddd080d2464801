"""The demo's evaluation and analysis: a study spec built in code, TI with CIs, both drift analyses.

Everything goes through the same code as ``transferlab study run``, ``ti --store``, ``drift`` and
``report``: the spec is an ordinary :class:`~transferlab.study.StudySpec` (also written out as
YAML, so ``transferlab study run OUT/study.yaml --store OUT/demo.db`` reproduces the evaluation),
scores come from the store, TI and its intervals from :func:`~transferlab.transfer.analysis.analyse_store`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from transferlab.benchmarks import get_benchmark
from transferlab.drift import run as run_drift
from transferlab.drift.hidden import benchmark_texts, pooled_hidden_states
from transferlab.drift.run import hf_backend
from transferlab.dynamics.trajectory import study_items
from transferlab.groups import GROUPS
from transferlab.pipeline.generate import is_loglikelihood
from transferlab.store import Store
from transferlab.study.run import run_study, study_for_store
from transferlab.study.spec import StudySpec, parse_spec
from transferlab.transfer.analysis import analyse_store
from transferlab.transfer.stats import group_accuracy

STUDY_NAME = "world-demo"


def spec_dict(
    base: Path, sft: Path, grpo: Path, benchmarks: Sequence[str], groups: Mapping[str, str], *, limit: int, max_new_tokens: int, seed: int, batch_size: int
) -> dict[str, Any]:
    """The demo study as a YAML-ready mapping: base, SFT and GRPO models, greedy decoding."""
    return {
        "name": STUDY_NAME,
        "description": "transferlab demo: the mini-world base, fine-tuned on world math by SFT and by GRPO, on all twelve families",
        "models": [
            {"name": "base", "path": str(base), "training": "base"},
            {"name": "sft", "path": str(sft), "base": "base", "training": "SFT"},
            {"name": "grpo", "path": str(grpo), "base": "base", "training": "RL"},
        ],
        "benchmarks": list(benchmarks),
        "groups": dict(groups),
        "generation": {"samples": 1, "temperature": 0.0, "max_new_tokens": max_new_tokens, "seed": seed},
        "backend": {"kind": "hf", "dtype": "float32", "batch_size": batch_size, "device": "cpu"},
        "limit": limit,
        "ti": {"version": "v2", "ddof": 1},
    }


def write_spec(data: Mapping[str, Any], path: Path) -> StudySpec:
    """Write the spec as YAML (for ``transferlab study run``) and return it parsed."""
    import yaml

    path.write_text(
        "# Written by `transferlab demo`; rerun with: transferlab study run THIS --store demo.db\n" + yaml.safe_dump(dict(data), sort_keys=False),
        encoding="utf-8",
    )
    return parse_spec(dict(data), where=str(path))


def run_evaluation(spec: StudySpec, store_path: Path) -> None:
    """Generate and score every model on every family (resumes: stored completions are skipped)."""
    with Store(store_path) as store:
        run_study(spec, store, show_progress=False, argv=["transferlab", "demo"])


def analyse(spec: StudySpec, store_path: Path, *, n_resamples: int, seed: int) -> Any:
    """The study analysis (scores, deltas, TI v1/v2 with paired-bootstrap CIs) from the store."""
    with Store(store_path, readonly=True) as store:
        _, keys = study_for_store(store, name=spec.name)
        return analyse_store(store, spec, keys, n_resamples=n_resamples, seed=seed)


def _ci(pair: Any) -> list[float] | None:
    return None if pair is None else [float(pair[0]), float(pair[1])]


def ti_record(analysis: Any, items: Mapping[tuple[str, str], Mapping[str, Sequence[float]]], *, n_resamples: int, seed: int) -> dict[str, Any]:
    """The demo's TI JSON: per-group accuracy of every model, and per pair the deltas and TI with CIs."""
    groups = analysis.groups
    accuracy: dict[str, dict[str, Any]] = {}
    for m in analysis.models:
        accuracy[m.name] = {}
        for g in GROUPS:
            cells = {b: items[(m.name, b)] for b in analysis.benchmarks if groups[b] == g and (m.name, b) in items}
            if cells:
                v, lo, hi = group_accuracy(cells, n_resamples=n_resamples, seed=seed)
                accuracy[m.name][g] = {"accuracy": v, "ci": [lo, hi], "benchmarks": len(cells)}
    pairs = {}
    for p in analysis.pairs:
        pairs[p.tuned] = {
            "base": p.base,
            "training": p.training,
            "group_delta": {g: {"delta": v, "ci": _ci((lo, hi)) if lo is not None else None} for g, (v, lo, hi) in p.group_delta.items()},
            "benchmark_delta": {
                d.benchmark: {"delta": d.delta, "ci": _ci((d.low, d.high)) if d.low is not None else None, "p_value": d.p_value} for d in p.deltas
            },
            "ti": {
                v: {
                    "point": row.point.to_dict() if row.point is not None else None,
                    "ti_ci": {g: _ci(ci) for g, ci in row.ci.items()},
                    "status": row.status,
                    "error": row.error,
                }
                for v, row in p.ti.items()
            },
        }
    sigma = {g: float(s) for g, s in (analysis.sigma or {}).items()}
    return {
        "study": analysis.title,
        "confidence": analysis.confidence,
        "n_resamples": n_resamples,
        "seed": seed,
        "sigma": sigma,
        "sigma_source": analysis.sigma_source,
        "accuracy": accuracy,
        "pairs": pairs,
        "scores": {f"{m}/{b}": c.accuracy for (m, b), c in sorted(analysis.cells.items())},
    }


def cell_items(spec: StudySpec, store_path: Path) -> dict[tuple[str, str], dict[str, list[float]]]:
    """Per-item scores of every (model, benchmark) cell of the study, as the analysis reads them."""
    with Store(store_path, readonly=True) as store:
        _, keys = study_for_store(store, name=spec.name)
        return study_items(store, spec, keys)


# --- drift -------------------------------------------------------------------------------------------


def _backend(path: str | Path, batch_size: int) -> Any:
    return hf_backend(str(path), device="cpu", dtype="float32", batch_size=batch_size)


def latent_drift(spec: StudySpec, out: Path, n: int, batch_size: int, tick: Callable[[], None]) -> None:
    """``drift latent`` for base vs each tuned model on every family: one JSON per (pair, family), figures."""
    run: dict[str, Any] = {"pooling": "masked", "max_tokens": None, "batch_size": batch_size}
    texts = {b: benchmark_texts(b, None, n) for b in spec.benchmarks}
    base = _backend(spec.model("base").source, batch_size)
    base_features = {b: pooled_hidden_states(base.hf_model, base.tokenizer, t, **run) for b, t in texts.items()}
    for tuned_name, _ in spec.pairs:
        tuned = _backend(spec.model(tuned_name).source, batch_size)
        run_drift.latent_drift(base, base_features, tuned, texts, out, run=run, title=f"{tuned_name} vs base", on_benchmark=lambda *_: tick())


def token_drift(spec: StudySpec, store_path: Path, out: Path, n: int, batch_size: int, tick: Callable[[], None]) -> None:
    """``drift tokens`` for base vs each tuned model: the tuned model's greedy answers from the
    study's store (generated in the evaluation, same settings), scored by both models."""
    benchmarks = [get_benchmark(b) for b in spec.benchmarks if not is_loglikelihood(get_benchmark(b))]
    base = _backend(spec.model("base").source, batch_size)
    settings = {"n": n, "backend": "hf", "top_k": 30, "answers": "the evaluation's greedy answers"}
    for tuned_name, _ in spec.pairs:
        tuned = _backend(spec.model(tuned_name).source, batch_size)
        run_drift.check_tokenizers(base, tuned)
        with Store(store_path, readonly=True) as store:
            answers = {b.name: run_drift.stored_answers(store, tuned, b, spec.generation_for(b.name), None, n) for b in benchmarks}
        run_drift.token_drift(
            base,
            tuned,
            answers,
            out,
            score=run_drift.hf_scorer(base, tuned, batch_size=batch_size, max_positions=4096),
            add_special=lambda name: not spec.generation_for(name).chat_template,
            settings=lambda name: {**settings, "generation": spec.generation_for(name).to_dict()},
            top_k=30,
            title=f"{tuned_name} vs base",
            on_benchmark=lambda *_: tick(),
        )
