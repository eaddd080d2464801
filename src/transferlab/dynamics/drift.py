"""Drift of every checkpoint from the base, and whether it predicts transfer.

For each tuned model of a study (the checkpoints of a trajectory), on a fixed sample of the first
``n`` items of each benchmark, the two measures of :mod:`transferlab.drift`:

- ``exact_kl``: the exact KL(tuned || base) over the vocabulary (nats per answer token), at the
  positions of the tuned model's own stored answers (sample 0 of the evaluation), mean per answer,
  then per benchmark, then over benchmarks (generated benchmarks only);
- ``pca_shift``: the paper's layer-averaged distance of (PC1 change, PC2 mean), a 2-component PCA
  of the base's mean-pooled hidden states on the raw texts (question and reference), mean over
  benchmarks.

One JSON per checkpoint (``drift__<model>.json``, with the weights' key: a rerun reuses it).
:func:`drift_transfer` puts those next to the trajectory's TI_non and Δ_non and measures the rank
correlation with its bootstrap interval (:func:`~transferlab.transfer.correlation.spearman_bootstrap`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.benchmarks import get_benchmark
from transferlab.drift import run as run_drift
from transferlab.drift.hidden import benchmark_texts, pooled_hidden_states
from transferlab.drift.latent import layer_shifts, paper_distance
from transferlab.drift.tokens import mean_exact_kl
from transferlab.io import write_json_atomic
from transferlab.pipeline.generate import is_loglikelihood
from transferlab.store import Store
from transferlab.study.run import predicted_model_key
from transferlab.study.spec import StudySpec
from transferlab.transfer.correlation import spearman_bootstrap

MEASURES = {"exact_kl": "exact token KL (nats/token)", "pca_shift": "PCA shift (paper distance)"}
OUTCOMES = {"ti_non": "TI_non (%)", "delta_non": "Δ non (points)"}
_POOLING: dict[str, Any] = {"pooling": "masked", "max_tokens": None}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def checkpoint_drift(
    spec: StudySpec,
    store_path: Path,
    out: Path,
    *,
    n: int,
    batch_size: int,
    device: str | None = "cpu",
    dtype: Any = "float32",
    tick: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Exact token KL and PCA shift of every tuned model of ``spec`` against its base (one base
    for the study), on the first ``n`` items of each benchmark; returns ``{model name: record}``."""
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(spec.data_dir) if spec.data_dir else None
    settings = {"n": n, **_POOLING, "answers": "sample 0 of the evaluation, from the store"}
    tuned_models = [m for m in spec.models if m.base is not None]
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for m in tuned_models:
        path = out / f"drift__{run_drift.pair_name(str(m.base), m.name)}.json"
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if old is not None and old.get("settings") == settings and old.get("key") == predicted_model_key(m):
            records[m.name] = old
            if tick is not None:
                tick(m.name)
        else:
            todo.append((m, path))
    if not todo:
        return records
    base = run_drift.hf_backend(spec.model(str(todo[0][0].base)).source, device=device, dtype=dtype, batch_size=batch_size)
    texts = {b: benchmark_texts(b, data_dir, n) for b in spec.benchmarks}
    base_features = {b: pooled_hidden_states(base.hf_model, base.tokenizer, t, batch_size=batch_size, **_POOLING) for b, t in texts.items()}
    generated = [get_benchmark(b) for b in spec.benchmarks if not is_loglikelihood(get_benchmark(b))]
    for m, path in todo:
        tuned = run_drift.hf_backend(m.source, device=device, dtype=dtype, batch_size=batch_size)
        run_drift.check_tokenizers(base, tuned)
        pca = {
            b: paper_distance(layer_shifts(base_features[b], pooled_hidden_states(tuned.hf_model, base.tokenizer, t, batch_size=batch_size, **_POOLING)))
            for b, t in texts.items()
        }
        with Store(store_path, readonly=True) as store:
            answers = {b.name: run_drift.stored_answers(store, tuned, b, spec.generation_for(b.name), data_dir, n) for b in generated}
        score = run_drift.hf_scorer(base, tuned, batch_size=batch_size, max_positions=4096)
        kl = {name: mean_exact_kl(score(a, not spec.generation_for(name).chat_template)) for name, a in answers.items()}
        records[m.name] = {
            "model": m.name,
            "key": tuned.model.key,
            "base": base.model.key,
            "settings": settings,
            "exact_kl": _mean(list(kl.values())),
            "pca_shift": _mean(list(pca.values())),
            "per_benchmark": {b: {"exact_kl": kl.get(b), "pca_shift": pca[b]} for b in spec.benchmarks},
        }
        write_json_atomic(path, records[m.name])
        del tuned
        run_drift.free_memory()
        if tick is not None:
            tick(m.name)
    return records


def drift_points(trajectory: Mapping[str, Any], drift: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per checkpoint that has a drift record: its run, step, both drift measures, TI_non
    (None where undefined) and Δ_non (points)."""
    rows = []
    for label, run in trajectory["runs"].items():
        for p in run["points"]:
            record = drift.get(p["model"])
            if record is None or "delta" not in p:
                continue
            delta = p["delta"].get("non")
            rows.append(
                {
                    "run": label,
                    "training": run["training"],
                    "step": p["step"],
                    "model": p["model"],
                    "exact_kl": record["exact_kl"],
                    "pca_shift": record["pca_shift"],
                    "ti_non": p["ti"]["non"]["value"],
                    "delta_non": None if delta is None else delta[0],
                }
            )
    return rows


def drift_transfer(points: list[dict[str, Any]], *, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """Spearman's ρ with its bootstrap interval (resampled within each run) of every drift measure
    against TI_non and Δ_non, over the points where both are defined; ``None`` with fewer than 3."""
    out: dict[str, Any] = {}
    for x in MEASURES:
        for y in OUTCOMES:
            rows = [r for r in points if _finite(r[x]) and _finite(r[y])]
            key = f"{y}~{x}"
            if len(rows) < 3 or len({r[x] for r in rows}) < 2 or len({r[y] for r in rows}) < 2:
                out[key] = {"n": len(rows), "rho": None, "reason": "fewer than 3 points with distinct values"}
                continue
            corr = spearman_bootstrap(
                [r[x] for r in rows], [r[y] for r in rows], strata=[r["run"] for r in rows], n_resamples=n_resamples, seed=seed, confidence=confidence
            )
            out[key] = corr.to_dict()
    return out


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))
