"""The math group: MATH-500, AIME 2024, AIME 2025, OlympiadBench, GSM8K.

Prompt styles:

- ``default``: the question, then "Please reason step by step, and put your final answer within
  \\boxed{}." (the Qwen2.5-Math / DeepSeek-R1 instruction that chat and reasoning models expect).
- ``paper``: the study's lm-evaluation-harness prompt, "Solve the following math problem. Present
  the final answer in the format: Final Answer: \\boxed{your_answer}.\\nProblem: ...\\nAnswer:",
  with "Problem:" as a stop string.

All five are scored by the one math scorer (math-verify in worker processes with a time limit).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, take
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import read_jsonl
from transferlab.items import Item, ScoringContext, Verdict
from transferlab.options import AnswerStyle, MathGraderName
from transferlab.scoring.math import MathTask

DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
PAPER_TEMPLATE = "Solve the following math problem. Present the final answer in the format: Final Answer: \\boxed{{your_answer}}.\nProblem: {question}\nAnswer:"
PAPER_TEMPLATE_MATH500 = (
    "Solve the following math problem and present the final answer in the format: Final Answer: \\boxed{{your_answer}}.\nProblem: {question}\nAnswer:"
)

Row = dict[str, Any]


@dataclass(frozen=True)
class MathBenchmark:
    """A math benchmark: where its data lives, how a row becomes an :class:`Item`, how it is graded.

    Attributes:
        name: the fixed benchmark name.
        hf_id, hf_configs, hf_split: where the hub copy lives (several configs are concatenated).
        local_path: the file inside a ``shared/data``-like folder.
        to_item: turns one raw row (local or hub) into an :class:`Item`.
        answer_style: extraction style of the math scorer ("boxed" or "gsm8k").
        paper_template: the study's prompt for this benchmark.
        math_grader: "transferlab" (the default scorer, stored as ``math``) or "qwen25-math" (the
            Qwen2.5-Math harness's verdicts, stored as ``math_qwen25``; see ``scoring/qwen_compat.py``).
    """

    name: str
    hf_id: str
    hf_configs: tuple[str | None, ...]
    hf_split: str
    local_path: str
    to_item: Callable[[Row, int], Item]
    answer_style: AnswerStyle = "boxed"
    paper_template: str = PAPER_TEMPLATE
    group: Group = "math"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    scorer: str = "math"
    mode: str = "generate"
    math_grader: MathGraderName = "transferlab"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items, from ``data_dir/<local_path>`` or from the hub."""
        if data_dir is not None:
            path = Path(data_dir) / self.local_path
            rows: list[Row] = list(read_jsonl(path))
            where = str(path)
        else:
            rows = [row for config in self.hf_configs for row in load_hub(self.hf_id, config=config, split=self.hf_split)]
            where = self.hf_id
        if not rows:
            raise DataError(f"{where} holds no {self.name} items", "check the file or the dataset id")
        items = []
        for index, row in enumerate(rows):
            try:
                items.append(self.to_item(row, index))
            except KeyError as err:
                raise DataError(f"{where}: row {index + 1} lacks the field {err}", "check that the file is the benchmark's published format") from err
        return take(items, limit)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """One user message in the requested style."""
        question = item.fields["question"]
        if style == "default":
            content = f"{question}\n\n{DEFAULT_INSTRUCTION}"
        elif style == "paper":
            content = self.paper_template.format(question=question)
        else:
            raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
        return [{"role": "user", "content": content}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """The paper's harness stops at a new "Problem:"."""
        return ("Problem:",) if style == "paper" else ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """Grade every answer with the shared math scorer."""
        tasks = [
            MathTask(
                response=a, gold=i.reference, style=self.answer_style, unit=i.meta.get("unit"), answer_type=i.meta.get("answer_type"), grader=self.math_grader
            )
            for i, a in zip(items, answers)
        ]
        return context.math_pool().verdicts(tasks)


def _math500_item(row: Row, index: int) -> Item:
    return Item(
        str(row.get("unique_id") or index), {"question": row["problem"]}, str(row["answer"]), {"subject": row.get("subject"), "level": row.get("level")}
    )


def _aime24_item(row: Row, index: int) -> Item:
    return Item(str(row.get("id", index)), {"question": row["problem"]}, str(row["answer"]).strip())


def _aime25_item(row: Row, index: int) -> Item:
    question = row.get("problem", row.get("question"))
    if question is None:
        raise KeyError("problem")
    # Hub rows (opencompass/AIME2025) have no id: number them I-1..I-15, II-1..II-15 in order.
    item_id = row.get("id") or (f"I-{index + 1}" if index < 15 else f"II-{index - 14}")
    return Item(str(item_id), {"question": question}, str(row["answer"]).strip())


def _olympiad_item(row: Row, index: int) -> Item:
    answers = row["final_answer"]
    answers = [str(a) for a in answers] if isinstance(answers, list) else [str(answers)]
    gold: str | list[str] = answers[0] if len(answers) == 1 else answers
    unit = row.get("unit") or None
    return Item(
        str(row.get("id", index)),
        {"question": row["question"]},
        gold,
        {"unit": unit, "answer_type": row.get("answer_type"), "is_multiple_answer": bool(row.get("is_multiple_answer"))},
    )


_GSM8K_ANSWER = re.compile(r"####\s*(.+?)\s*$", re.S)


def gsm8k_gold(solution: str) -> str:
    """The number after ``####`` in a GSM8K solution, without thousands separators."""
    match = _GSM8K_ANSWER.search(solution)
    if not match:
        raise DataError("a GSM8K solution has no '#### N' line", "check that the file is GSM8K's published format")
    return match.group(1).replace(",", "").strip()


def _gsm8k_item(row: Row, index: int) -> Item:
    return Item(str(row.get("idx", index)), {"question": row["question"]}, gsm8k_gold(row["answer"]))


MATH_BENCHMARKS: dict[str, MathBenchmark] = {
    b.name: b
    for b in (
        MathBenchmark("math500", "HuggingFaceH4/MATH-500", (None,), "test", "math500/test.jsonl", _math500_item, paper_template=PAPER_TEMPLATE_MATH500),
        MathBenchmark("aime24", "HuggingFaceH4/aime_2024", (None,), "train", "aime24/test.jsonl", _aime24_item),
        MathBenchmark("aime25", "opencompass/AIME2025", ("AIME2025-I", "AIME2025-II"), "test", "aime25/aime25.json", _aime25_item),
        MathBenchmark("olympiadbench", "Hothan/OlympiadBench", ("OE_TO_maths_en_COMP",), "train", "olympiadbench/test.jsonl", _olympiad_item),
        MathBenchmark("gsm8k", "openai/gsm8k", ("main",), "test", "gsm8k/test.jsonl", _gsm8k_item, answer_style="gsm8k"),
    )
}


def matharena_answers(folder: Path) -> dict[str, str]:
    """AIME 2025 answers from MathArena's ``answers.csv`` (id, answer), for cross-checking sources."""
    with (folder / "answers.csv").open(newline="") as f:
        return {row["id"]: row["answer"] for row in csv.DictReader(f)}
