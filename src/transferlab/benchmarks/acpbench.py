"""ACPBench: reasoning about action, change and planning; 7 tasks, multiple choice or yes/no.

Tasks: app (applicability), areach (action reachability), just (justification), land
(landmarks), prog (progression), reach (reachability), val (validation).

Data: the hub's ``ibm-research/acp_bench`` (configs ``acp_<task>_<kind>``; split ``validation``
for dev, ``test``), or ``<data_dir>/acpbench/<task>/{dev,test}.{mcq,bool}.json[.gz]``. The study
scored the 7 MCQ tasks on the dev files (7 x 40 = 280 items), which is the default here; its
boolean numbers came from the test split (``kind="bool", split="test"``).

Prompt: the study's 2-shot chain of thought (lm-evaluation-harness ``acpbench/mcq_cot_2shot`` and
``boolq_cot_2shot``): two worked examples per task, each "**Question**: <context>  <question>
**Thoughts**: <reasoning> **Final Answer**: X.", then the item in the same form ending at
"**Thoughts**:". The examples are in ``acpbench_cot_2shot.json``, exactly as lm-eval reads them.

- ``paper``: everything in one user message, examples joined by a blank line (lm-eval with a chat
  template and without multi-turn few-shot), with the study's stop strings.
- ``default``: the two examples as earlier user/assistant turns, then the item.

Scoring (scorer ``"choice"``): the letter (or yes/no) of the final answer after the thinking:
``\\boxed{}`` first, then "**Final Answer**: X" / "answer is X" forms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, take
from transferlab.benchmarks.choices import choice_verdicts, locate_letter, locate_yes_no
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import read_json_list
from transferlab.items import Item, ScoringContext, Verdict

TASKS = ("app", "areach", "just", "land", "prog", "reach", "val")
KINDS = ("mcq", "bool")
SPLITS = ("dev", "test")
SHOTS_FILE = Path(__file__).with_name("acpbench_cot_2shot.json")
PAPER_STOP = ("\n\n\n\n", "**Question**:", "**Question:**", "Q:")
DEFAULT_STOP = ("**Question**:", "**Question:**")

Row = dict[str, Any]


@lru_cache(maxsize=1)
def few_shot_examples() -> dict[str, dict[str, list[dict[str, str]]]]:
    """``{kind: {task: [{context, question, answer}, ...]}}``: the study's two examples per task."""
    data = json.loads(SHOTS_FILE.read_text(encoding="utf-8"))
    return {kind: data[kind] for kind in KINDS}


def question_text(context: str, question: str) -> str:
    """lm-eval's ``doc_to_text``: "**Question**: <context>  <question> **Thoughts**:"."""
    return f"**Question**: {context}  {question} **Thoughts**:"


def local_file(data_dir: Path, task: str, kind: str, split: str) -> Path:
    """Where a task's file lies in a ``shared/data``-like folder."""
    name = f"{split}.{kind}.json" + (".gz" if split == "test" else "")
    return Path(data_dir) / "acpbench" / task / name


def _read_rows(path: Path) -> list[Row]:
    return read_json_list(path)  # .json or .json.gz


@dataclass(frozen=True)
class ACPBench:
    """ACPBench (see the module docstring); defaults: the 7 MCQ tasks on the dev files."""

    kind: str = "mcq"
    split: str = "dev"
    tasks: tuple[str, ...] = TASKS
    name: str = "acpbench"
    group: Group = "other"
    hf_id: str = "ibm-research/acp_bench"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    scorer: str = "choice"
    mode: str = "generate"

    def _check(self) -> None:
        if self.kind not in KINDS or self.split not in SPLITS or not set(self.tasks) <= set(TASKS):
            raise DataError(
                f"ACPBench has no kind {self.kind!r}, split {self.split!r} or tasks {self.tasks!r}",
                f"use kind in {KINDS}, split in {SPLITS}, tasks from {TASKS}",
            )

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items of every task, task after task."""
        self._check()
        items: list[Item] = []
        for task in self.tasks:
            if data_dir is not None:
                rows = _read_rows(local_file(data_dir, task, self.kind, self.split))
            else:
                rows = load_hub(self.hf_id, config=f"acp_{task}_{self.kind}", split="validation" if self.split == "dev" else "test")
            for index, row in enumerate(rows):
                items.append(self._item(task, row, index))
        return take(items, limit)

    def _item(self, task: str, row: Row, index: int) -> Item:
        try:
            fields = {"task": task, "context": str(row["context"]), "question": str(row["question"])}
            answer = str(row["answer"]).strip()
            labels = list(row["choices"]["label"]) if self.kind == "mcq" else ["yes", "no"]
            item_id = f"{task}-{self.kind}-{row['id']}"
        except (KeyError, TypeError) as err:
            raise DataError(f"ACPBench {task} {self.kind} row {index + 1} lacks {err}", "check that the file is ACPBench's published format") from err
        gold = answer.lower() if self.kind == "bool" else answer.upper()
        if gold not in labels:
            raise DataError(f"ACPBench {task} row {index + 1} answer {answer!r} is not one of {labels}", "check the data file")
        return Item(item_id, fields, gold, {"task": task, "kind": self.kind, "labels": "".join(labels) if self.kind == "mcq" else "yes/no"})

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The 2-shot chain-of-thought prompt (one message for ``paper``, turns for ``default``)."""
        shots = few_shot_examples()[self.kind][item.fields["task"]]
        query = question_text(item.fields["context"], item.fields["question"])
        if style == "paper":
            blocks = [f"{question_text(s['context'], s['question'])} {s['answer']}" for s in shots]
            return [{"role": "user", "content": "\n\n".join([*blocks, query])}]
        if style == "default":
            turns: list[dict[str, str]] = []
            for s in shots:
                turns += [{"role": "user", "content": question_text(s["context"], s["question"])}, {"role": "assistant", "content": s["answer"]}]
            return [*turns, {"role": "user", "content": query}]
        raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """The study's stop strings for ``paper``; a new "**Question**:" for ``default``."""
        return PAPER_STOP if style == "paper" else DEFAULT_STOP

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """1 when the final answer's letter (or yes/no) is the gold one."""
        out: list[Verdict] = []
        for item, answer in zip(items, answers, strict=True):
            if item.meta.get("kind") == "bool":
                out += choice_verdicts([answer], [str(item.reference)], locate_yes_no)
            else:
                letters = str(item.meta.get("labels") or "ABCD")
                out += choice_verdicts([answer], [str(item.reference)], partial(locate_letter, letters=letters))
        return out
