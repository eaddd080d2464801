"""MC-TACO (test, 9442 rows): is this candidate answer to a temporal question plausible?

One item per (sentence, question, candidate answer) row, label ``"yes"`` or ``"no"``, as in
lm-eval's ``mc_taco`` (the study's scorer). Two benchmarks share the rows:

- ``mctaco`` (mode ``"loglikelihood"``, as the study): the context
  ``"{sentence}\\nQuestion: {question}\\nAnswer: {answer}\\nPlausible:"`` is scored with the
  continuations ``" no"`` and ``" yes"``; the higher log-probability is the prediction (lm-eval's
  ``acc``). No chat template: log-likelihoods are taken on the raw text.
- ``mctaco_gen`` (mode ``"generate"``): the same question asked in a chat message; the model may
  reason, and its yes/no is read from the answer (thinking removed): a boxed or "Answer: ..."
  yes/no, else the answer must hold exactly one of yes/no as a word. So base, chat and reasoning
  models are compared on the same rows.

Item ids are the row numbers in the file (``"0"`` ... ``"9441"``); ``meta["question"]`` numbers the
distinct (sentence, question) pairs, for the per-question exact match of the MC-TACO paper.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, take
from transferlab.benchmarks.choices import final_yes_no
from transferlab.benchmarks.halueval import sole_yes_no
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import text_lines
from transferlab.items import Item, ScoringContext, Verdict

Row = dict[str, Any]
CHOICES = ("no", "yes")  # lm-eval's doc_to_choice order: option 0 is "no"
TSV_FIELDS = ("sentence", "question", "answer", "label", "category")
LOCAL_FILES = {"test": "mctaco/test_9442.tsv", "validation": "mctaco/dev_3783.tsv"}
GEN_INSTRUCTION = (
    'Is this answer plausible? Think about typical durations, orders, frequencies and times of events. End your reply with "Answer: yes" or "Answer: no".'
)


def mctaco_context(item: Item) -> str:
    """lm-eval's ``mc_taco`` text, ending ``Plausible:``."""
    f = item.fields
    return f"{f['sentence']}\nQuestion: {f['question']}\nAnswer: {f['answer']}\nPlausible:"


def read_tsv(path: Path) -> list[Row]:
    """Rows of a headerless MC-TACO TSV file (sentence, question, answer, label, category)."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir (it must be laid out like shared/data) or drop it to load from the hub")
    rows = []
    lines = (line for _, line in text_lines(path))
    for number, cells in enumerate(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
        if not cells:
            continue
        if len(cells) != len(TSV_FIELDS):
            raise DataError(f"{path} line {number} has {len(cells)} fields, not 5", "repair or re-download that file")
        rows.append(dict(zip(TSV_FIELDS, cells)))
    return rows


def _label(value: Any) -> str:
    """``"yes"``/``"no"`` from a TSV label or the hub's class index (0 = no, 1 = yes)."""
    if isinstance(value, int) and value in (0, 1):
        return CHOICES[value]
    text = str(value).strip().lower()
    if text not in CHOICES:
        raise DataError(f"an MC-TACO row has the label {value!r}", "labels must be yes or no")
    return text


def mctaco_items(rows: Sequence[Row]) -> list[Item]:
    """Items in file order; ``meta["question"]`` numbers the distinct (sentence, question) pairs."""
    questions: dict[tuple[str, str], int] = {}
    items = []
    for index, row in enumerate(rows):
        try:
            key = (row["sentence"], row["question"])
            fields = {"sentence": row["sentence"], "question": row["question"], "answer": row["answer"]}
            label, category = _label(row["label"]), row["category"]
        except KeyError as err:
            raise DataError(f"MC-TACO row {index + 1} lacks the field {err}", "check that the file is MC-TACO's published format") from err
        question = questions.setdefault(key, len(questions))
        items.append(Item(str(index), fields, label, {"category": category, "question": question}))
    return items


def extract_yes_no(answer: str) -> str | None:
    """A boxed or "Answer: ..." yes/no, else the sole yes/no word of the answer, else ``None``."""
    return final_yes_no(answer) or sole_yes_no(answer)


def loglikelihood_verdict(stored: str, gold: str) -> Verdict:
    """The verdict of stored option scores (JSON with a ``logprob`` list in ``CHOICES`` order)."""
    try:
        logprobs = json.loads(stored)["logprob"]
    except (ValueError, KeyError, TypeError):
        return Verdict(0.0, None, "error")
    if len(logprobs) != len(CHOICES):
        return Verdict(0.0, None, "error")
    pick = CHOICES[max(range(len(CHOICES)), key=lambda i: logprobs[i])]  # ties go to "no", as argmax
    return Verdict(float(pick == gold), pick, "ok")


@dataclass(frozen=True)
class MCTaco:
    """MC-TACO rows, scored by log-likelihood (``mctaco``) or by a generated yes/no (``mctaco_gen``)."""

    name: str = "mctaco"
    mode: str = "loglikelihood"
    split: str = "test"
    group: Group = "non"
    hf_id: str = "CogComp/mc_taco"
    prompt_styles: tuple[str, ...] = ("default", "paper")

    @property
    def scorer(self) -> str:
        """``mctaco-ll`` (log-likelihood argmax) or ``mctaco-yesno`` (generated answer)."""
        return "mctaco-ll" if self.mode == "loglikelihood" else "mctaco-yesno"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The rows of ``split``, from ``data_dir/mctaco/*.tsv`` or the hub."""
        if self.split not in LOCAL_FILES:
            raise DataError(f"MC-TACO has no split {self.split!r}", "use test or validation")
        if data_dir is not None:
            rows = read_tsv(Path(data_dir) / LOCAL_FILES[self.split])
        else:
            rows = load_hub(self.hf_id, split=self.split)
        if not rows:
            raise DataError(f"no MC-TACO {self.split} rows found", "check the file or the dataset id")
        return take(mctaco_items(rows), limit)

    def loglikelihood_requests(self, item: Item, style: str = "default") -> list[tuple[str, str]]:
        """(context, continuation) for " no" and " yes", in ``CHOICES`` order."""
        self._check_style(style)
        context = mctaco_context(item)
        return [(context, f" {choice}") for choice in CHOICES]

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """``paper``: lm-eval's text as the message; ``default``: the question and how to answer."""
        self._check_style(style)
        if style == "paper":
            return [{"role": "user", "content": mctaco_context(item)}]
        f = item.fields
        return [{"role": "user", "content": f"{f['sentence']}\nQuestion: {f['question']}\nCandidate answer: {f['answer']}\n\n{GEN_INSTRUCTION}"}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """Log-likelihood argmax (stored JSON) or the extracted yes/no against the label."""
        verdicts = []
        for item, answer in zip(items, answers, strict=True):
            if self.mode == "loglikelihood":
                verdicts.append(loglikelihood_verdict(answer, item.reference))
                continue
            got = extract_yes_no(answer)
            verdicts.append(Verdict(0.0, None, "no_answer") if got is None else Verdict(float(got == item.reference), got, "ok"))
        return verdicts

    def _check_style(self, style: str) -> None:
        if style not in self.prompt_styles:
            raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
