"""The demo's evaluation and analysis: a study spec built in code, TI with CIs, both drift analyses.

Everything goes through the same code as ``transferlab study run``, ``ti --store``, ``drift`` and
``report``: the spec is an ordinary :class:`~transferlab.study.StudySpec` (also written out as
YAML, so ``transferlab study run OUT/study.yaml --store OUT/demo.db`` reproduces the evaluation),
scores come from the store, TI and its intervals from :func:`~transferlab.report.analysis.analyse_store`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from transferlab.benchmarks.groups import GROUPS
from transferlab.study import StudySpec, parse_spec

STUDY_NAME = "world-demo"


def spec_dict(base: Path, sft: Path, grpo: Path, benchmarks: Sequence[str], groups: Mapping[str, str], *,
              limit: int, max_new_tokens: int, seed: int, batch_size: int) -> dict[str, Any]:
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

    path.write_text("# Written by `transferlab demo`; rerun with: transferlab study run THIS --store demo.db\n"
                    + yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")
    return parse_spec(dict(data), where=str(path))


def run_evaluation(spec: StudySpec, store_path: Path) -> None:
    """Generate and score every model on every family (resumes: stored completions are skipped)."""
    from transferlab.store import Store
    from transferlab.study_run import run_study

    with Store(store_path) as store:
        run_study(spec, store, show_progress=False, argv=["transferlab", "demo"])


def analyse(spec: StudySpec, store_path: Path, *, n_resamples: int, seed: int) -> Any:
    """The study analysis (scores, deltas, TI v1/v2 with paired-bootstrap CIs) from the store."""
    from transferlab.report.analysis import analyse_store
    from transferlab.store import Store
    from transferlab.study_run import study_for_store

    with Store(store_path, readonly=True) as store:
        _, keys = study_for_store(store, name=spec.name)
        return analyse_store(store, spec, keys, n_resamples=n_resamples, seed=seed)


def group_accuracy(cells_items: Mapping[str, Mapping[str, Sequence[float]]], *, n_resamples: int, seed: int,
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """A group's accuracy (mean over its benchmarks of the mean item score, percent) with a
    percentile-bootstrap CI from resampling items within each benchmark. ``cells_items``:
    benchmark -> item -> sample scores in [0, 1]."""
    rng = np.random.default_rng(seed)
    means = [np.array([np.mean(v) for _, v in sorted(items.items())]) for _, items in sorted(cells_items.items())]
    point = float(np.mean([m.mean() for m in means]))
    reps = np.zeros(n_resamples)
    for m in means:
        reps += m[rng.integers(0, len(m), size=(n_resamples, len(m)))].mean(axis=1)
    reps /= len(means)
    alpha = (1 - confidence) / 2
    return 100 * point, 100 * float(np.quantile(reps, alpha)), 100 * float(np.quantile(reps, 1 - alpha))


def _ci(pair: Any) -> list[float] | None:
    return None if pair is None else [float(pair[0]), float(pair[1])]


def ti_record(analysis: Any, items: Mapping[tuple[str, str], Mapping[str, Sequence[float]]], *, n_resamples: int, seed: int) -> dict[str, Any]:
    """The demo's TI JSON: per-group accuracy of every model, and per pair the deltas and TI with CIs."""
    groups = analysis.groups
    accuracy = {}
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
            "base": p.base, "training": p.training,
            "group_delta": {g: {"delta": v, "ci": _ci((lo, hi)) if lo is not None else None} for g, (v, lo, hi) in p.group_delta.items()},
            "benchmark_delta": {d.benchmark: {"delta": d.delta, "ci": _ci((d.low, d.high)) if d.low is not None else None, "p_value": d.p_value} for d in p.deltas},
            "ti": {v: {"point": row.point.to_dict() if row.point is not None else None, "ti_ci": {g: _ci(ci) for g, ci in row.ci.items()},
                       "status": row.status, "error": row.error} for v, row in p.ti.items()},
        }
    sigma = {g: float(s) for g, s in (analysis.sigma or {}).items()}
    return {"study": analysis.title, "confidence": analysis.confidence, "n_resamples": n_resamples, "seed": seed,
            "sigma": sigma, "sigma_source": analysis.sigma_source, "accuracy": accuracy, "pairs": pairs,
            "scores": {f"{m}/{b}": c.accuracy for (m, b), c in sorted(analysis.cells.items())}}


def cell_items(spec: StudySpec, store_path: Path) -> dict[tuple[str, str], dict[str, list[float]]]:
    """Per-item scores of every (model, benchmark) cell of the study, as the analysis reads them."""
    from transferlab.report.analysis import read_cell_rows, study_gen_key
    from transferlab.store import Store
    from transferlab.study_run import study_for_store

    out = {}
    with Store(store_path, readonly=True) as store:
        _, keys = study_for_store(store, name=spec.name)
        for name, key in keys.items():
            for b in spec.benchmarks:
                gk = study_gen_key(store, spec, key, b)
                if gk:
                    by_item, _ = read_cell_rows(store, key, b, gk, spec.generation_for(b).samples)
                    if by_item:
                        out[(name, b)] = by_item
    return out


# --- drift -------------------------------------------------------------------------------------------


def _backend(path: str | Path, batch_size: int) -> Any:
    from transferlab.commands.drift import hf_backend

    return hf_backend(str(path), SimpleNamespace(device="cpu", dtype="float32", batch_size=batch_size))


def latent_drift(spec: StudySpec, out: Path, n: int, batch_size: int, tick: Callable[[], None]) -> None:
    """``drift latent`` for base vs each tuned model on every family: one JSON per (pair, family), figures."""
    from transferlab.analysis import figures, latent
    from transferlab.analysis.hidden import benchmark_texts, pooled_hidden_states
    from transferlab.commands.drift import pair_name, record, write_json

    run = {"pooling": "masked", "max_tokens": None, "batch_size": batch_size}
    texts = {b: benchmark_texts(b, None, n) for b in spec.benchmarks}
    base = _backend(spec.model("base").source, batch_size)
    base_feats = {b: pooled_hidden_states(base.hf_model, base.tokenizer, t, **run) for b, t in texts.items()}
    for tuned_name, _ in spec.pairs:
        tuned = _backend(spec.model(tuned_name).source, batch_size)
        pair = pair_name(base.model.name, tuned.model.name)
        summaries = {}
        for b in spec.benchmarks:
            feats = pooled_hidden_states(tuned.hf_model, base.tokenizer, texts[b], **run)
            summaries[b] = latent.summarize(latent.layer_shifts(base_feats[b], feats))
            settings = {"n": len(texts[b]), **run, "texts": "question + reference, raw", "last_layer_after_final_norm": True}
            write_json(out / f"latent__{pair}__{b}.json", record("latent", base, tuned, b, settings, summaries[b]))
            tick()
        title = f"{tuned_name} vs base"
        figures.plot_layer_shifts(summaries, out / f"latent__{pair}__layers.png", title=title)
        figures.plot_pca_scatter(summaries, out / f"latent__{pair}__scatter.png", title=title)


def token_drift(spec: StudySpec, store_path: Path, out: Path, n: int, batch_size: int, tick: Callable[[], None]) -> None:
    """``drift tokens`` for base vs each tuned model: the tuned model's greedy answers from the
    study's store (generated in the evaluation, same settings), scored by both models."""
    from transferlab.analysis import figures, tokens
    from transferlab.analysis.token_scoring import score_answers
    from transferlab.benchmarks import get_benchmark
    from transferlab.commands.drift import check_tokenizers, pair_name, record, samples_path, stored_answers, token_text, top_table, write_json, write_token_samples
    from transferlab.evaluate import is_loglikelihood
    from transferlab.store import Store

    benchmarks = [get_benchmark(b) for b in spec.benchmarks if not is_loglikelihood(get_benchmark(b))]
    base = _backend(spec.model("base").source, batch_size)
    settings = {"n": n, "backend": "hf", "top_k": 30, "answers": "the evaluation's greedy answers"}
    for tuned_name, _ in spec.pairs:
        tuned = _backend(spec.model(tuned_name).source, batch_size)
        check_tokenizers(base, tuned)
        pair = pair_name(base.model.name, tuned.model.name)
        with Store(store_path, readonly=True) as store:
            answers = {b.name: stored_answers(store, tuned, b, spec.generation_for(b.name), None, n) for b in benchmarks}
        summaries = {}
        for b in benchmarks:
            config = spec.generation_for(b.name)
            per_sample = score_answers(base.hf_model, tuned.hf_model, base.tokenizer, answers[b.name], add_special_tokens=not config.chat_template,
                                       pad_id=base.pad_id, batch_size=batch_size, max_positions=4096)
            summaries[b.name] = tokens.summarize(per_sample, top_k=30, decode=lambda i: token_text(base.tokenizer, i))
            write_json(out / f"tokens__{pair}__{b.name}.json", record("tokens", base, tuned, b.name, {**settings, "generation": config.to_dict()}, summaries[b.name]))
            write_token_samples(samples_path(out, pair, b.name), answers[b.name], per_sample, base.tokenizer, benchmark=b.name, base_key=base.model.key, tuned_key=tuned.model.key)
            tick()
        (out / f"tokens__{pair}__top_shifted.md").write_text(top_table(summaries), encoding="utf-8")
        title = f"{tuned_name} vs base"
        figures.plot_token_shares(summaries, out / f"tokens__{pair}__shares.png", title=title)
        figures.plot_token_kl(summaries, out / f"tokens__{pair}__kl.png", title=title)
        figures.plot_position_curves(summaries, out / f"tokens__{pair}__positions.png", title=title)
