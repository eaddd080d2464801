"""The evaluation pipeline: generate into the store, score what is stored, tabulate.

- :mod:`~transferlab.pipeline.generate`: benchmarks -> prompts -> backend -> store, resumable;
- :mod:`~transferlab.pipeline.share`: several workers on one store split the missing completions (leases);
- :mod:`~transferlab.pipeline.score`: thinking split, then each benchmark's scorer, verdicts to the store;
- :mod:`~transferlab.pipeline.results`: model x benchmark accuracy with CIs, truncation, export.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transferlab.backends.base import Backend
from transferlab.benchmarks.base import Benchmark
from transferlab.pipeline.generate import EvalSummary, run_eval
from transferlab.pipeline.results import BenchmarkResult, export_rows, results
from transferlab.pipeline.score import LazyScoringContext, score_store
from transferlab.pipeline.share import DEFAULT_CLAIM, DEFAULT_LEASE_S
from transferlab.spec import GenerationConfig
from transferlab.store import Store

__all__ = ["BenchmarkResult", "EvalSummary", "LazyScoringContext", "evaluate", "export_rows", "results", "run_eval", "score_store"]


def evaluate(
    backend: Backend,
    benchmarks: Sequence[Benchmark],
    config: GenerationConfig,
    store: Store,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    argv: Sequence[str] | None = None,
    show_progress: bool | None = None,
    score: bool = True,
    claim: int = DEFAULT_CLAIM,
    lease_s: float = DEFAULT_LEASE_S,
) -> tuple[EvalSummary, list[BenchmarkResult]]:
    """``transferlab eval``: generate what is missing, score what is unscored (unless ``score`` is
    False), and return the run's summary with the results of this model (none when not scored).
    ``claim`` and ``lease_s``: how other workers on the same store share the work (:func:`run_eval`)."""
    summary = run_eval(backend, benchmarks, config, store, data_dir=data_dir, limit=limit, argv=argv, show_progress=show_progress, claim=claim, lease_s=lease_s)
    if not score:
        return summary, []
    score_store(
        store,
        model_key=summary.model_key,
        benchmarks=[b.name for b in benchmarks],
        thinking_parser=config.thinking_parser,
        only_unscored=True,
        show_progress=show_progress,
    )
    return summary, [r for r in results(store) if r.model == summary.model_key]
