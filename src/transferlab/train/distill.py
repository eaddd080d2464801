"""Rejection-sampled distillation: a teacher answers math prompts, only correct traces are kept.

Run::

    transferlab distill --teacher MODEL --prompts math_train --samples 4 --out sft.jsonl --thinking on

1. The teacher samples ``k`` solutions per prompt through any backend, with the same machinery as
   evaluation (:func:`transferlab.pipeline.generate.run_eval`): every completion is committed to the store
   as it arrives, so a killed run resumes without generating anything twice.
2. Each stored completion is split into thinking and answer and graded by the evaluation's math
   scorer (:func:`transferlab.pipeline.score.score_records`); verdicts go to the store's score table.
3. A trace is kept when the scorer accepts its answer and it ended on its own (finish reason
   "stop": a trace cut by the token budget is never kept). Kept traces are written as chat-format
   prompt/completion pairs (``transferlab train sft --data`` reads them); with thinking on, the
   completion holds the ``<think>...</think>`` block before the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.groups import Group
from transferlab.io import write_jsonl_atomic
from transferlab.items import Item, ScoringContext, Verdict
from transferlab.pipeline.generate import plan_benchmark, run_eval
from transferlab.pipeline.score import LazyScoringContext, score_records
from transferlab.scoring.math import MathTask
from transferlab.scoring.thinking import OPEN_TAG
from transferlab.spec import GenerationConfig
from transferlab.store import CompletionRecord, Store
from transferlab.train.data import MathPrompt

# One benchmark name for every prompt set: a trace is keyed by (teacher, problem text, rendered
# prompt, sampling settings, sample index), so two prompt sets that share a problem share its traces.
DISTILL_BENCHMARK = "distill"


@dataclass(frozen=True)
class PromptSetBenchmark:
    """A training prompt set dressed as a benchmark, so that evaluation's generation path runs it.

    Follows :class:`~transferlab.benchmarks.base.Benchmark`; items are the prompts given, rendered
    with the math benchmarks' default instruction, graded by the math scorer with each prompt's
    extraction style.
    """

    name: str
    prompts: tuple[MathPrompt, ...]
    group: Group = "math"
    hf_id: str = ""
    prompt_styles: tuple[str, ...] = ("default",)
    scorer: str = "math"
    mode: str = "generate"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        items = [Item(p.id, {"question": p.question}, p.answer, {"source": p.source, "style": p.style}) for p in self.prompts]
        return items if limit is None else items[:limit]

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        return MathPrompt(item.id, item.fields["question"], str(item.reference), "").messages()

    def stop(self, style: str = "default") -> tuple[str, ...]:
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        tasks = [MathTask(response=a, gold=i.reference, style=i.meta.get("style", "boxed")) for i, a in zip(items, answers)]
        return context.math_pool().verdicts(tasks)


@dataclass(frozen=True)
class DistillSummary:
    """How many traces were asked for, generated now, and kept by the rejection filter."""

    model_key: str
    requested: int
    reused: int
    generated: int
    accepted: int
    out: Path

    @property
    def acceptance(self) -> float:
        """Share of the traces kept (0..1)."""
        return self.accepted / self.requested if self.requested else 0.0


def sft_row(prompt: MathPrompt, completion: CompletionRecord, parser: str, teacher: str) -> dict[str, Any]:
    """One kept trace as a chat-format SFT example; the thinking block is made whole when the
    teacher's template had opened ``<think>`` in the prompt."""
    text = completion.text
    if parser == "think-end" and OPEN_TAG not in text:
        text = f"{OPEN_TAG}\n{text.lstrip()}"
    return {
        "prompt": prompt.messages(),
        "completion": [{"role": "assistant", "content": text}],
        "meta": {
            "item_id": prompt.id,
            "source": prompt.source,
            "reference": prompt.answer,
            "teacher": teacher,
            "sample_index": completion.sample_index,
            "completion_tokens": completion.completion_tokens,
        },
    }


def distill(
    backend: Any,
    prompts: list[MathPrompt],
    config: GenerationConfig,
    store: Store,
    out: Path,
    *,
    show_progress: bool | None = None,
    scorer_workers: int | None = None,
) -> DistillSummary:
    """Sample the teacher into ``store``, grade every trace, write the accepted ones to ``out``."""
    bench = PromptSetBenchmark(DISTILL_BENCHMARK, tuple(prompts))
    summary = run_eval(backend, [bench], config, store, show_progress=show_progress)
    keys = set(plan_benchmark(backend, store, bench, config, data_dir=None, limit=None).meta)
    completions = [c for c in store.completions(model_key=summary.model_key, benchmark=bench.name) if c.key in keys]
    references = {p.id: (p.answer, {"style": p.style}) for p in prompts}
    with LazyScoringContext(workers=scorer_workers) as context:
        scores = score_records(store, completions, bench, context, thinking_parser=config.thinking_parser, references=references)
    store.put_scores(scores)
    by_id = {p.id: p for p in prompts}
    rows = [
        sft_row(by_id[c.item_id], c, (s.details or {})["thinking_parser"], summary.model_key)
        for c, s in zip(completions, scores)
        if s.score == 1.0 and c.finish_reason == "stop"
    ]
    accepted = write_jsonl_atomic(Path(out), rows)
    return DistillSummary(summary.model_key, summary.requested, summary.reused, summary.generated, accepted, Path(out))
