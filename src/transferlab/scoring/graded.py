"""The one scoring sequence: split the thinking off each completion, then grade only the answers
whose thinking closed.

A thinking block that never closed gets :data:`UNCLOSED` (score 0, status ``truncated_thinking``)
and is never graded: its reasoning is not an answer. Evaluation (``pipeline.score``),
distillation, the GRPO reward, ``transferlab grade`` (:func:`grade_math_rows`) and the demo's SFT
data all go through :func:`split_and_grade`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from transferlab.errors import DataError
from transferlab.items import Verdict
from transferlab.options import AnswerStyle, MathGraderName, ThinkingParser
from transferlab.scoring.math import MathTask
from transferlab.scoring.math_pool import MathGradingPool
from transferlab.scoring.thinking import ThinkingSplit, split_thinking

__all__ = ["UNCLOSED", "Grader", "grade_math_rows", "split_and_grade"]

UNCLOSED = Verdict(0.0, None, "truncated_thinking")

Grader = Callable[[list[int], list[str]], Sequence[Verdict]]
"""``grade(indices, answers)``: the verdicts of the answers of the completions at ``indices``, in order."""


def split_and_grade(texts: Sequence[str], parsers: Sequence[ThinkingParser], grade: Grader) -> tuple[list[ThinkingSplit], list[Verdict]]:
    """Split each text with its parser, grade the closed ones in one call; returns (splits, verdicts).

    ``grade`` is called once (not at all when every thinking block is unclosed) with the indices of
    the gradable completions and their answers; the others get :data:`UNCLOSED`.
    """
    splits = [split_thinking(text, parser) for text, parser in zip(texts, parsers, strict=True)]
    todo = [i for i, s in enumerate(splits) if not s.truncated_thinking]
    verdicts = [UNCLOSED] * len(splits)
    if todo:
        for i, verdict in zip(todo, grade(todo, [splits[i].answer for i in todo]), strict=True):
            verdicts[i] = verdict
    return splits, verdicts


def grade_math_rows(
    rows: Sequence[dict[str, Any]],
    *,
    where: str = "the input",
    gold_field: str = "gold",
    response_field: str = "response",
    unit_field: str = "unit",
    style: AnswerStyle = "boxed",
    grader: MathGraderName = "transferlab",
    thinking_parser: ThinkingParser = "think",
    workers: int | None = None,
    timeout_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Answers made elsewhere (one dict per answer, holding its reference and response) graded by the
    math scorer: each row plus ``correct``, ``extracted`` and ``grade_status`` (``transferlab grade
    math``). A row lacking a field is a :class:`DataError` naming its line (1-based) of ``where``."""
    for number, row in enumerate(rows, start=1):
        for name in (gold_field, response_field):
            if name not in row:
                raise DataError(f"line {number} of {where} has no field {name!r}", "name the fields with --gold-field / --response-field")

    def task(row: dict[str, Any], answer: str) -> MathTask:
        gold = row[gold_field]
        golds = [str(g) for g in gold] if isinstance(gold, list) else str(gold)
        return MathTask(response=answer, gold=golds, style=style, unit=row.get(unit_field) or None, grader=grader)

    with MathGradingPool(workers=workers, timeout_s=timeout_s) as pool:

        def grade(indices: list[int], answers: list[str]) -> list[Verdict]:
            return pool.verdicts([task(rows[i], a) for i, a in zip(indices, answers)])

        _, verdicts = split_and_grade([str(r[response_field]) for r in rows], [thinking_parser] * len(rows), grade)
    return [{**row, "correct": v.score == 1.0, "extracted": v.extracted, "grade_status": v.status} for row, v in zip(rows, verdicts)]
