"""Stores of synthetic scored completions with exact accuracies, for the TI and report tests.

Each (model, benchmark, scorer) cell gets ``round(rate * n_items / 100)`` correct items, chosen by a
seeded permutation, so every accuracy is known exactly while base and tuned disagree on items the
way real models do (the paired intervals have something to measure).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.benchmarks import get_benchmark
from transferlab.spec import GenerationConfig
from transferlab.store import CompletionRecord, ModelInfo, ScoreRecord, Store, completion_key
from transferlab.study.run import expected_gen_key, record_model_key, record_study
from transferlab.study.spec import parse_spec

GENERATION = {"samples": 1, "temperature": 0.0, "max_new_tokens": 64}
Rates = Mapping[str, float | Mapping[str, float]]  # benchmark -> percent correct, or scorer -> percent


def fill_store(path: Path, models: Mapping[str, Rates], *, n_items: int = 60, seed: int = 0, spec: dict[str, Any] | None = None) -> None:
    """Write ``models`` (name -> benchmark -> rate) into a store at ``path``; a rate may be a mapping
    ``scorer -> rate`` for completions holding several scorers' verdicts. With ``spec`` (a study
    spec dict, generation :data:`GENERATION`) the study and its model keys are recorded too."""
    rng = np.random.default_rng(seed)
    config = GenerationConfig.from_dict(GENERATION)
    study = parse_spec(spec) if spec is not None else None
    with Store(path) as store:
        if study is not None:
            record_study(store, study)
        for name, rates in models.items():
            key = store.add_model(ModelInfo(name, fingerprint="0123456789abcdef", info={"dtype": "torch.float32"}))
            if study is not None:
                record_model_key(store, study, study.model(name), key)
            for bench, rate in rates.items():
                benchmark = get_benchmark(bench)
                gen_key = expected_gen_key(benchmark, config)
                store.add_gen_config(gen_key, config.sampling_dict())
                hashes = store.add_prompts([f"{bench} {i}" for i in range(n_items)])
                records = [
                    CompletionRecord(
                        completion_key(key, bench, f"q{i}", hashes[f"{bench} {i}"], gen_key, 0),
                        key,
                        bench,
                        f"q{i}",
                        hashes[f"{bench} {i}"],
                        gen_key,
                        0,
                        0,
                        "x",
                        "stop",
                        5,
                        20,
                    )
                    for i in range(n_items)
                ]
                store.add_completions(records)
                by_scorer = rate if isinstance(rate, Mapping) else {benchmark.scorer: rate}
                for scorer, value in by_scorer.items():
                    correct = set(rng.permutation(n_items)[: round(value * n_items / 100)].tolist())
                    store.put_scores([ScoreRecord(r.key, scorer, float(i in correct), "ok") for i, r in enumerate(records)])


def study_dict(name: str, models: Mapping[str, str | None], benchmarks: list[str]) -> dict[str, Any]:
    """A study spec: ``models`` maps each name to its base (None for a base)."""
    entries = [{"name": m, "path": f"/nowhere/{m}", **({"base": b, "training": "RL"} if b else {})} for m, b in models.items()]
    return {"name": name, "models": entries, "benchmarks": benchmarks, "generation": dict(GENERATION)}
