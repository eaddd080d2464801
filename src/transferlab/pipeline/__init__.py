"""The evaluation pipeline: generate into the store, score what is stored, tabulate.

- :mod:`~transferlab.pipeline.generate`: benchmarks -> prompts -> backend -> store, resumable;
- :mod:`~transferlab.pipeline.share`: several workers on one store split the missing completions (leases);
- :mod:`~transferlab.pipeline.score`: thinking split, then each benchmark's scorer, verdicts to the store;
- :mod:`~transferlab.pipeline.results`: model x benchmark accuracy with CIs, truncation, export;
- :mod:`~transferlab.pipeline.imported` + :mod:`~transferlab.pipeline.lm_eval_samples`: completions made
  by other tools into the store (``transferlab import``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from transferlab.backends.base import Backend
from transferlab.benchmarks.base import Benchmark
from transferlab.errors import DataError
from transferlab.items import Item
from transferlab.pipeline.generate import EvalSummary, run_eval
from transferlab.pipeline.imported import Imported, ImportSummary, file_sha256, import_completions, read_plain
from transferlab.pipeline.lm_eval_samples import lm_eval_benchmark, read_lm_eval_samples, task_of
from transferlab.pipeline.results import BenchmarkResult, export_rows, results
from transferlab.pipeline.score import LazyScoringContext, score_store
from transferlab.pipeline.share import DEFAULT_CLAIM, DEFAULT_LEASE_S
from transferlab.spec import GenerationConfig
from transferlab.store import Store

__all__ = [
    "IMPORT_FORMATS",
    "BenchmarkResult",
    "EvalSummary",
    "ImportSummary",
    "LazyScoringContext",
    "evaluate",
    "export_rows",
    "import_file",
    "results",
    "run_eval",
    "score_store",
]

IMPORT_FORMATS = ("auto", "jsonl", "lm-eval")


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
    items: Mapping[str, Sequence[Item]] | None = None,
    claim: int = DEFAULT_CLAIM,
    lease_s: float = DEFAULT_LEASE_S,
) -> tuple[EvalSummary, list[BenchmarkResult]]:
    """``transferlab eval``: generate what is missing, score what is unscored (unless ``score`` is
    False), and return the run's summary with the results of this model (none when not scored).
    ``claim`` and ``lease_s``: how other workers on the same store share the work (:func:`run_eval`)."""
    summary = run_eval(
        backend, benchmarks, config, store, data_dir=data_dir, limit=limit, argv=argv, show_progress=show_progress, items=items, claim=claim, lease_s=lease_s
    )
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


def import_file(
    store: Store,
    path: Path,
    *,
    fmt: str = "auto",
    model: str | None = None,
    benchmark: str | None = None,
    task: str | None = None,
    revision: str | None = None,
    own: Sequence[Benchmark] = (),
    data_dir: Path | None = None,
    argv: Sequence[str] | None = None,
) -> ImportSummary:
    """``transferlab import``: one file of completions made elsewhere into the store.

    ``fmt``: ``jsonl`` (the plain format of :func:`~transferlab.pipeline.imported.read_plain`),
    ``lm-eval`` (a ``--log_samples`` file; needs ``model``, the name to store it under) or
    ``auto`` (lm-eval when the file is named ``samples_<task>_<date>.jsonl``); ``benchmark``
    overrides the benchmark an lm-eval task maps to; ``own``: benchmarks of your own the rows may name.
    """
    from transferlab.benchmarks import get_benchmark

    if not path.is_file():
        raise DataError(f"no file {path}", "check the path of the file to import")
    if fmt not in IMPORT_FORMATS:
        raise DataError(f"unknown import format {fmt!r}", f"choose from {', '.join(IMPORT_FORMATS)}")
    mine = {b.name: b for b in own}
    mine.update({str(b.definition["name"]): b for b in own if isinstance(getattr(b, "definition", None), dict) and "name" in b.definition})  # type: ignore[attr-defined]

    def lookup(name: str) -> Benchmark:
        return mine[name] if name in mine else get_benchmark(name)

    if fmt == "auto":
        fmt = "lm-eval" if path.name.startswith("samples_") else "jsonl"
    rows: list[Imported]
    if fmt == "lm-eval":
        if not model:
            raise DataError(f"{path.name}: lm-eval samples do not name the model", "pass --model NAME (the name to store these completions under)")
        task = task or task_of(path)
        target = lookup(lm_eval_benchmark(task, benchmark))
        rows, source, benchmarks = read_lm_eval_samples(path, model, target, task=task), "lm-eval", {target.name: target}
    else:
        rows, source = read_plain(path), "jsonl"
        resolved = {name: lookup(name) for name in dict.fromkeys(r.benchmark for r in rows)}
        rows = [dataclasses.replace(r, model=model or r.model, benchmark=resolved[r.benchmark].name) for r in rows]
        benchmarks = {b.name: b for b in resolved.values()}
    return import_completions(store, rows, benchmarks, source=source, path=path, digest=file_sha256(path), revision=revision, data_dir=data_dir, argv=argv)
