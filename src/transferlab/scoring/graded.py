"""The one scoring sequence: split the thinking off each completion, then grade only the answers
whose thinking closed.

A thinking block that never closed gets :data:`UNCLOSED` (score 0, status ``truncated_thinking``)
and is never graded: its reasoning is not an answer. A completion that stopped at its token budget
(finish reason ``length``) is credited only for a final answer it marked as such (a box, GSM8K's
``####``): an answer a scorer found by a fallback (an "answer is" phrase, the last number, see
:data:`~transferlab.scoring.extract.FALLBACK_SOURCES`), or none at all, gets status ``truncated``
and score 0. Evaluation (``pipeline.score``), distillation, the GRPO reward, ``transferlab grade``
(:func:`grade_math_rows`) and the demo's SFT data all go through :func:`split_and_grade`.

The study's own scorers (``--paper-scoring``) read the whole completion as the study's code did,
thinking included (``raw=True``): the split is still recorded, but neither rule above applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from transferlab.errors import DataError
from transferlab.items import Verdict
from transferlab.options import AnswerStyle, MathGraderName, ThinkingParser
from transferlab.scoring.extract import ANSWER_FROM, FALLBACK_SOURCES
from transferlab.scoring.math import MathTask
from transferlab.scoring.math_pool import MathGradingPool
from transferlab.scoring.thinking import ThinkingSplit, split_thinking

__all__ = ["TRUNCATED_FINISH", "UNCLOSED", "GradeSummary", "Grader", "grade_math_rows", "split_and_grade", "verdict_fields"]

UNCLOSED = Verdict(0.0, None, "truncated_thinking")
TRUNCATED_FINISH = "length"  # the finish reason of a completion that hit its token budget

Grader = Callable[[list[int], list[str]], Sequence[Verdict]]
"""``grade(indices, answers)``: the verdicts of the answers of the completions at ``indices``, in order."""


def split_and_grade(
    texts: Sequence[str],
    parsers: Sequence[ThinkingParser],
    grade: Grader,
    *,
    finish_reasons: Sequence[str | None] | None = None,
    raw: bool = False,
) -> tuple[list[ThinkingSplit], list[Verdict]]:
    """Split each text with its parser, grade the closed ones in one call; returns (splits, verdicts).

    ``grade`` is called once (not at all when every thinking block is unclosed) with the indices of
    the gradable completions and their answers; the others get :data:`UNCLOSED`. ``finish_reasons``
    (one per text; ``None``: unknown) apply the token-budget rule of the module docstring. ``raw``:
    every completion is graded on its whole text, thinking included (the study's scorers).
    """
    splits = [split_thinking(text, parser) for text, parser in zip(texts, parsers, strict=True)]
    if raw:
        return splits, list(grade(list(range(len(texts))), list(texts)))
    todo = [i for i, s in enumerate(splits) if not s.truncated_thinking]
    verdicts = [UNCLOSED] * len(splits)
    if todo:
        for i, verdict in zip(todo, grade(todo, [splits[i].answer for i in todo]), strict=True):
            verdicts[i] = verdict
    if finish_reasons is not None:
        for i in todo:
            if finish_reasons[i] == TRUNCATED_FINISH:
                verdicts[i] = _unfinished(verdicts[i])
    return splits, verdicts


def _unfinished(verdict: Verdict) -> Verdict:
    """The verdict of an answer cut off by the token budget: kept when its answer was marked final,
    else ``truncated`` with score 0 (its extracted text kept for reading)."""
    guessed = verdict.status == "ok" and (verdict.details or {}).get(ANSWER_FROM) in FALLBACK_SOURCES
    if verdict.status == "no_answer" or guessed:
        return Verdict(0.0, verdict.extracted, "truncated", verdict.details)
    return verdict


def verdict_fields(verdict: Verdict, split: ThinkingSplit) -> dict[str, Any]:
    """What ``transferlab grade`` adds to each line: ``correct`` (score 1), ``score``, ``extracted``,
    ``grade_status`` and ``thinking_status`` (see docs/grading.md)."""
    return {
        "correct": verdict.score == 1.0,
        "score": verdict.score,
        "extracted": verdict.extracted,
        "grade_status": verdict.status,
        "thinking_status": split.status,
    }


@dataclass(frozen=True)
class GradeSummary:
    """Counts over graded lines: ``right`` (score 1) and ``wrong`` (the rest) add up to ``answers``;
    ``no_answer`` (no final answer found, cut off included), ``unclosed_thinking`` and ``errors``
    (timeouts, scorer failures) are among the wrong; ``truncated`` counts lines whose finish reason
    was ``length``, right or wrong."""

    answers: int
    right: int
    wrong: int
    no_answer: int
    unclosed_thinking: int
    truncated: int
    errors: int
    mean_score: float

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]], finish_field: str = "finish_reason") -> GradeSummary:
        """The summary of lines that carry :func:`verdict_fields`."""
        right = sum(bool(r["correct"]) for r in rows)
        return cls(
            answers=len(rows),
            right=right,
            wrong=len(rows) - right,
            no_answer=sum(r["grade_status"] in ("no_answer", "truncated") for r in rows),
            unclosed_thinking=sum(r["thinking_status"] == "unclosed" for r in rows),
            truncated=sum(r.get(finish_field) == TRUNCATED_FINISH for r in rows),
            errors=sum(r["grade_status"] in ("timeout", "error") for r in rows),
            mean_score=sum(float(r["score"]) for r in rows) / len(rows) if rows else 0.0,
        )

    def line(self) -> str:
        """One line for the terminal."""
        share = 100 * self.right / max(self.answers, 1)
        return (
            f"graded {self.answers} answers: {self.right} right ({share:.1f}%), {self.wrong} wrong"
            f" ({self.no_answer} with no answer, {self.unclosed_thinking} with unclosed thinking, {self.errors} errors);"
            f" {self.truncated} truncated (finish reason length); mean score {self.mean_score:.4f}"
        )


def grade_math_rows(
    rows: Sequence[dict[str, Any]],
    *,
    where: str = "the input",
    gold_field: str = "gold",
    response_field: str = "response",
    unit_field: str = "unit",
    finish_field: str = "finish_reason",
    style: AnswerStyle = "boxed",
    grader: MathGraderName = "transferlab",
    thinking_parser: ThinkingParser = "think",
    workers: int | None = None,
    timeout_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Answers made elsewhere (one dict per answer, holding its reference and response) graded by the
    math scorer: each row plus :func:`verdict_fields` (``transferlab grade math``). A row lacking a
    field is a :class:`DataError` naming its line (1-based) of ``where``; a row whose
    ``finish_field`` is ``length`` was cut off by its token budget."""
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

        texts, finish = [str(r[response_field]) for r in rows], [r.get(finish_field) for r in rows]
        splits, verdicts = split_and_grade(texts, [thinking_parser] * len(rows), grade, finish_reasons=finish)
    return [{**row, **verdict_fields(v, s)} for row, s, v in zip(rows, splits, verdicts)]
