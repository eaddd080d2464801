"""Scoring what is stored: thinking split, then the benchmark's scorer; verdicts to the score table.

Pure with respect to generation: it reads completions and item references from the store and
writes scores, so anything can be re-scored (a new scorer, another thinking parser) without
generating again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transferlab.benchmarks import scoring_variant
from transferlab.benchmarks.base import Benchmark
from transferlab.items import Item, ScoringContext, Verdict
from transferlab.options import MathGraderName, ThinkingParser, ThinkingRequest
from transferlab.progress import progress_bar
from transferlab.scoring.graded import split_and_grade
from transferlab.scoring.math_pool import MathGradingPool
from transferlab.scoring.thinking import ThinkingSplit, parser_for_prompt
from transferlab.store import CompletionRecord, ScoreRecord, Store

SCORED_CHUNK = 256  # completions graded and committed together


class LazyScoringContext:
    """Scoring resources started on first use and stopped by :meth:`close` (a context manager)."""

    def __init__(self, *, workers: int | None = None, timeout_s: float = 5.0) -> None:
        self.workers = workers
        self.timeout_s = timeout_s
        self._math: MathGradingPool | None = None

    def math_pool(self) -> MathGradingPool:
        """The shared math worker pool."""
        if self._math is None:
            self._math = MathGradingPool(workers=self.workers, timeout_s=self.timeout_s)
        return self._math

    def close(self) -> None:
        """Stop every worker that was started."""
        if self._math is not None:
            self._math.close()
            self._math = None

    def __enter__(self) -> LazyScoringContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def score_records(
    store: Store,
    completions: Sequence[CompletionRecord],
    benchmark: Benchmark,
    context: ScoringContext,
    *,
    thinking_parser: ThinkingRequest = "auto",
    references: Mapping[str, tuple[Any, dict[str, Any]]] | None = None,
) -> list[ScoreRecord]:
    """Score completions of one benchmark with ``benchmark``'s scorer; returns the records (not yet written).

    Each completion's thinking parser is resolved against its stored prompt (``auto``); option
    log-likelihoods hold no thinking. A completion cut off by its token budget is credited only for
    an answer it marked final (see :func:`~transferlab.scoring.graded.split_and_grade`).
    ``references``: ``item id -> (reference, meta)`` (default: the items the store holds for the benchmark).
    """
    refs = references if references is not None else store.items(benchmark.name)
    prompts: dict[str, str] = {}
    parsers: list[ThinkingParser] = []
    for c in completions:
        if c.prompt_hash not in prompts:
            prompts[c.prompt_hash] = store.prompt_text(c.prompt_hash) or ""
        parsers.append("none" if c.finish_reason == "loglikelihood" else parser_for_prompt(prompts[c.prompt_hash], thinking_parser))
    items = [Item(c.item_id, {}, *refs[c.item_id]) for c in completions]
    texts, finish = [c.text for c in completions], [c.finish_reason for c in completions]
    splits, verdicts = grade_texts(benchmark, items, texts, parsers, finish, context)
    return [
        ScoreRecord(
            completion_key=c.key,
            scorer=benchmark.scorer,
            score=v.score,
            status=v.status,
            extracted=v.extracted,
            thinking=s.thinking,
            answer=s.answer,
            thinking_status=s.status,
            details={**(v.details or {}), "finish_reason": c.finish_reason, "thinking_parser": parser},
        )
        for c, s, parser, v in zip(completions, splits, parsers, verdicts)
    ]


def grade_texts(
    benchmark: Benchmark,
    items: Sequence[Item],
    texts: Sequence[str],
    parsers: Sequence[ThinkingParser],
    finish_reasons: Sequence[str | None],
    context: ScoringContext,
) -> tuple[list[ThinkingSplit], list[Verdict]]:
    """Each text (a completion of the item at the same index) split with its parser and graded by
    ``benchmark``'s scorer, as :func:`~transferlab.scoring.graded.split_and_grade` does it; the
    study's scorers (``raw_completion``) read the whole text."""

    def grade(indices: list[int], answers: list[str]) -> list[Verdict]:
        return benchmark.score([items[i] for i in indices], answers, context)

    raw = bool(getattr(benchmark, "raw_completion", False))
    return split_and_grade(texts, parsers, grade, finish_reasons=finish_reasons, raw=raw)


def score_completions(
    store: Store,
    completions: Sequence[CompletionRecord],
    benchmark_name: str,
    context: ScoringContext,
    *,
    thinking_parser: ThinkingRequest = "auto",
    paper_scoring: bool = False,
    math_grader: MathGraderName = "transferlab",
    definitions: Mapping[str, dict[str, Any]] | None = None,
) -> list[ScoreRecord]:
    """Score completions of one benchmark (registered, or of your own: ``definitions``, the
    store's); returns the score records (not yet written).

    ``paper_scoring`` uses the study's own scorer where it differs (see ``PAPER_SCORING``);
    ``math_grader="qwen25-math"`` grades the math benchmarks as the Qwen2.5-Math harness does.
    """
    benchmark = scoring_variant(benchmark_name, paper=paper_scoring, math_grader=math_grader, definitions=definitions)
    return score_records(store, completions, benchmark, context, thinking_parser=thinking_parser)


def score_store(
    store: Store,
    *,
    model_key: str | None = None,
    benchmarks: Sequence[str] | None = None,
    thinking_parser: ThinkingRequest = "auto",
    only_unscored: bool = False,
    paper_scoring: bool = False,
    math_grader: MathGraderName = "transferlab",
    context: LazyScoringContext | None = None,
    show_progress: bool | None = None,
) -> int:
    """Score stored completions (all, or only those without a verdict); returns how many were scored.

    Reads the keys to score first (no texts), then the texts a chunk at a time: memory does not grow
    with the store."""
    names = [b for b in store.benchmarks(model_key) if benchmarks is None or b in benchmarks]
    definitions = store.benchmark_definitions()
    own_context = context is None
    context = context or LazyScoringContext()
    done = 0
    try:
        with progress_bar("answers", enabled=show_progress) as progress:
            for name in names:
                unscored_by = scoring_variant(name, paper=paper_scoring, math_grader=math_grader, definitions=definitions).scorer if only_unscored else None
                keys = store.completion_keys(model_key=model_key, benchmark=name, unscored_by=unscored_by)
                task = progress.add_task(f"score {name}", total=len(keys))
                for start in range(0, len(keys), SCORED_CHUNK):
                    chunk = store.completions_by_key(keys[start : start + SCORED_CHUNK])
                    store.put_scores(
                        score_completions(
                            store,
                            chunk,
                            name,
                            context,
                            thinking_parser=thinking_parser,
                            paper_scoring=paper_scoring,
                            math_grader=math_grader,
                            definitions=definitions,
                        )
                    )
                    progress.advance(task, len(chunk))
                    done += len(chunk)
    finally:
        if own_context:
            context.close()
    return done
