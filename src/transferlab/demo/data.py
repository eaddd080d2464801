"""The demo's math-only training data, from the mini-world (``transferlab.world``).

- SFT: for each world math family, train-split items; the world's own step-by-step solver writes a
  trace per item (:func:`transferlab.world.teacher_trace`); each trace is split into thinking and
  answer exactly as evaluation does and graded by the family's own benchmark scorer (the math
  scorer): only traces graded correct are kept (rejection sampling). The prompt of each example is
  the benchmark's own rendering of the item, so training and evaluation see the same prompts.
- GRPO: the same train items as prompts, with their reference answers; the reward is the
  evaluation's math scorer (:class:`~transferlab.train.rewards.MathReward`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.backends.base import render_chat
from transferlab.benchmarks import get_benchmark
from transferlab.errors import DataError
from transferlab.groups import Group, group_of
from transferlab.io import write_jsonl_atomic
from transferlab.items import Item, Verdict
from transferlab.models import load_tokenizer
from transferlab.pipeline.score import LazyScoringContext
from transferlab.scoring.graded import split_and_grade
from transferlab.scoring.thinking import parser_for_prompt
from transferlab.spec import GenerationConfig
from transferlab.train.data import MathPrompt
from transferlab.world import FAMILIES, teacher_trace, train_items
from transferlab.world.tasks_math import reference_text


def families() -> tuple[str, ...]:
    """The twelve world task families, which are also registered benchmarks."""
    return tuple(FAMILIES)


def group_of_family(family: str) -> Group:
    """A family's group (math, other or non), from the one table of groups."""
    return group_of(family)


def math_families() -> tuple[str, ...]:
    """The world families of the math group: the only ones the demo trains on."""
    found = tuple(f for f in families() if group_of_family(f) == "math")
    if not found:
        raise DataError("the mini-world has no math family", "check transferlab.world.FAMILIES and the families' groups")
    return found


@dataclass(frozen=True)
class WorldPrompt(MathPrompt):
    """A GRPO prompt rendered exactly as its benchmark renders the item for evaluation.

    ``chat`` holds the benchmark's messages as (role, content) pairs; :meth:`messages` returns them.
    """

    chat: tuple[tuple[str, str], ...] = ()

    def messages(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.chat] if self.chat else super().messages()


def answer_style(benchmark: Any) -> str:
    """The math scorer's extraction style of a benchmark ("boxed" unless it says otherwise)."""
    return str(getattr(benchmark, "answer_style", "boxed") or "boxed")


def train_split(family: str, n: int, seed: int) -> list[Item]:
    """``n`` train-split items of a family (the world keeps them apart from the test split)."""
    items = list(train_items(family, n, seed))
    if not items:
        raise DataError(f"the world gave no train items for {family}", "check transferlab.world.train_items")
    return items


def grpo_prompts(families_: Sequence[str], n_per_family: int, seed: int) -> list[WorldPrompt]:
    """World math train items as GRPO prompts, interleaved across families (round robin)."""
    per_family = []
    for family in families_:
        bench = get_benchmark(family)
        per_family.append(
            [
                WorldPrompt(
                    f"{family}:{item.id}",
                    str(item.fields.get("question", "")),
                    reference_text(item.reference),
                    family,
                    answer_style(bench),
                    chat=tuple((m["role"], m["content"]) for m in bench.messages(item, "default")),
                )
                for item in train_split(family, n_per_family, seed)
            ]
        )
    return [p for group in zip(*per_family) for p in group]


@dataclass(frozen=True)
class SFTDataSummary:
    """How many teacher traces were written and kept, per family."""

    path: Path
    written: dict[str, int]
    kept: dict[str, int]

    @property
    def acceptance(self) -> float:
        """Share of the traces the scorer accepted (0..1)."""
        total = sum(self.written.values())
        return sum(self.kept.values()) / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "written": self.written, "kept": self.kept, "acceptance": self.acceptance}


def _graded(family: str, items: Sequence[Item], traces: Sequence[str], tokenizer: Any, context: Any) -> list[bool]:
    """Which traces the family's scorer grades correct (thinking split and graded as in evaluation)."""
    bench = get_benchmark(family)
    config = GenerationConfig()
    parsers = [parser_for_prompt(render_chat(tokenizer, bench.messages(i, "default"), config), "auto") for i in items]

    def grade(indices: list[int], answers: list[str]) -> list[Verdict]:
        return bench.score([items[k] for k in indices], answers, context)

    _, verdicts = split_and_grade(traces, parsers, grade)
    return [v.score == 1.0 for v in verdicts]


def build_sft_data(base: str | Path, families_: Sequence[str], n_per_family: int, seed: int, out: Path) -> SFTDataSummary:
    """Teacher traces for ``n_per_family`` train items of each family, rejection-sampled, to ``out``."""
    tokenizer = load_tokenizer(str(base))
    rows, written, kept = [], {}, {}
    with LazyScoringContext(workers=1) as context:
        for family in families_:
            bench = get_benchmark(family)
            items = train_split(family, n_per_family, seed)
            traces = [str(teacher_trace(item)) for item in items]
            accepted = _graded(family, items, traces, tokenizer, context)
            written[family], kept[family] = len(items), sum(accepted)
            rows += [
                {
                    "prompt": bench.messages(item, "default"),
                    "completion": [{"role": "assistant", "content": trace}],
                    "meta": {"family": family, "item_id": item.id, "reference": item.reference},
                }
                for item, trace, ok in zip(items, traces, accepted)
                if ok
            ]
    if not rows:
        raise DataError("the scorer rejected every teacher trace", "check transferlab.world.teacher_trace against the families' scorers")
    order = _interleave(rows)
    write_jsonl_atomic(out, order)
    return SFTDataSummary(out, written, kept)


def _interleave(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ordered round robin over families (the trainer shuffles too; this keeps files readable)."""
    by_family: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_family.setdefault(r["meta"]["family"], []).append(r)
    out, lists = [], list(by_family.values())
    for k in range(max(len(v) for v in lists)):
        out += [v[k] for v in lists if k < len(v)]
    return out
