"""Grade answers made elsewhere (another harness's outputs) with a registered benchmark's scorer.

``transferlab grade BENCHMARK --in answers.jsonl --out verdicts.jsonl``: each JSON line holds a
response and the id of the item it answers (or its reference). The reference is joined by item id
from the benchmark's data (``--data-dir`` or the hub) unless the line gives its own; GPQA also takes
the options in the order the other harness showed them (the gold letter follows the correct
answer). Then the same thinking split and scorer as ``transferlab score``
(:func:`~transferlab.pipeline.score.grade_texts`). The fields are documented in docs/grading.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks import scoring_variant
from transferlab.benchmarks.base import Benchmark
from transferlab.errors import DataError
from transferlab.items import Item
from transferlab.options import MathGraderName, ThinkingParser
from transferlab.pipeline.score import LazyScoringContext, grade_texts
from transferlab.scoring.graded import verdict_fields

__all__ = ["LineFields", "grade_lines"]


@dataclass(frozen=True)
class LineFields:
    """The names of the fields of an input line."""

    id: str = "id"
    response: str = "response"
    gold: str = "gold"
    options: str = "options"
    finish: str = "finish_reason"


def grade_lines(
    rows: Sequence[dict[str, Any]],
    benchmark_name: str,
    *,
    where: str = "the input",
    fields: LineFields = LineFields(),
    thinking_parser: ThinkingParser = "think",
    paper_scoring: bool = False,
    math_grader: MathGraderName = "transferlab",
    data_dir: Path | None = None,
    workers: int | None = None,
    timeout_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Each line plus ``reference`` (as graded) and :func:`~transferlab.scoring.graded.verdict_fields`.

    A line lacking its response, or both its id and its reference, or naming an item the data does
    not hold, is a :class:`DataError` naming its line (1-based) of ``where``; nothing is graded then.
    """
    benchmark = scoring_variant(benchmark_name, paper=paper_scoring, math_grader=math_grader)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row.get(fields.response), str):
            raise DataError(f"line {number} of {where} has no text field {fields.response!r}", "name the response field with --response-field")
        if fields.gold not in row and fields.id not in row:
            raise DataError(
                f"line {number} of {where} has neither {fields.id!r} nor {fields.gold!r}",
                "give each line its item id (--id-field) or its reference (--gold-field)",
            )
    items = _items(rows, benchmark, where, fields, data_dir)
    texts = [str(r[fields.response]) for r in rows]
    finish = [r.get(fields.finish) for r in rows]
    parser: ThinkingParser = "none" if benchmark.mode == "loglikelihood" else thinking_parser  # option log-likelihoods hold no thinking
    with LazyScoringContext(workers=workers, timeout_s=timeout_s) as context:
        splits, verdicts = grade_texts(benchmark, items, texts, [parser] * len(rows), finish, context)
    return [{**row, "reference": item.reference, **verdict_fields(v, s)} for row, item, s, v in zip(rows, items, splits, verdicts)]


def _items(rows: Sequence[dict[str, Any]], benchmark: Benchmark, where: str, fields: LineFields, data_dir: Path | None) -> list[Item]:
    """The item each line answers: from the benchmark's data by id, its reference replaced by the
    line's own (``fields.gold``) or worked out from the line's options (``fields.options``)."""
    needs_data = data_dir is not None or any(fields.gold not in r for r in rows)  # the data also gives items' metadata (units)
    known = {item.id: item for item in benchmark.load(data_dir)} if needs_data else {}
    items = []
    for number, row in enumerate(rows, start=1):
        item_id = str(row.get(fields.id, f"line-{number}"))
        item = known.get(item_id)
        if item is None and fields.gold not in row:
            raise DataError(
                f"line {number} of {where}: item id {item_id!r} is not in {benchmark.name}'s data",
                "check --id-field and --data-dir, or give the reference in --gold-field",
            )
        item = item or Item(item_id, {}, None)
        if fields.gold in row:
            item = Item(item.id, item.fields, row[fields.gold], item.meta)
        elif fields.options in row:
            item = Item(item.id, item.fields, _reference_for_options(benchmark, item, row[fields.options], number, where), item.meta)
        items.append(item)
    return items


def _reference_for_options(benchmark: Benchmark, item: Item, options: Any, number: int, where: str) -> Any:
    """The reference of ``item`` when its options were shown in another order (GPQA)."""
    reorder = getattr(benchmark, "reference_for_options", None)
    if reorder is None:
        raise DataError(f"line {number} of {where} gives options, which {benchmark.name} does not take", "drop the options field (--options-field)")
    if not isinstance(options, list):
        raise DataError(f"line {number} of {where}: the options must be a list of the option texts", "write options as a JSON list")
    try:
        return reorder(item, options)
    except DataError as err:
        raise DataError(f"line {number} of {where}: {err}") from err
