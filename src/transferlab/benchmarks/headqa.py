"""HEAD-QA (English test, 2742 questions from Spanish healthcare exams), two ways.

Data: the hub's ``EleutherAI/headqa`` (config ``en``, split ``test``; flat rows), or the original
distribution's ``<data_dir>/headqa/test_HEAD_EN.json`` (nested by exam). Item ids are
``<exam name>-<qid>`` either way.

- ``headqa`` (mode ``"loglikelihood"``, as the study, via lm-evaluation-harness's ``headqa_en``):
  each option is scored as the continuation ``" " + option`` of the context
  ``"Question: <question>\\nAnswer:"``. Accuracy (``acc``, the study's metric) takes the option
  with the highest summed log-probability. The length-normalised choice (``acc_norm``, as
  lm-eval: log-probability divided by the option's length in characters, the joining space not
  counted) is reported beside it in ``extracted``, as JSON.
- ``headqa_gen`` (mode ``"generate"``): the question with lettered options; the model answers and
  the letter of its final answer is extracted (``\\boxed{}`` first, then "answer is X" forms), so
  chat and reasoning models are measured on the same items.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, take
from transferlab.benchmarks.choices import choice_verdicts, letters_for, locate_letter
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import read_text
from transferlab.items import Item, ScoringContext, Verdict

CONTEXT_TEMPLATE = "Question: {question}\nAnswer:"
GEN_INSTRUCTION = "Please reason step by step, and put the letter of your final answer ({letters}) within \\boxed{{}}."

Row = dict[str, Any]


def flatten_exams(document: dict[str, Any]) -> list[Row]:
    """The rows of the original nested file (``exams -> data``), with the exam's name on each."""
    try:
        exams = document["exams"]
        return [
            {**question, "name": exam.get("name", key), "category": exam.get("category"), "year": exam.get("year")}
            for key, exam in exams.items()
            for question in exam["data"]
        ]
    except (KeyError, TypeError, AttributeError) as err:
        raise DataError(f"the HEAD-QA file is not nested as exams -> data ({err})", "use the original test_HEAD_EN.json") from err


def headqa_item(row: Row) -> Item:
    """One question: options in ``aid`` order, the gold option's index as the reference."""
    answers = sorted(row["answers"], key=lambda a: int(a["aid"]))
    options = [str(a["atext"]).strip() for a in answers]
    aids = [int(a["aid"]) for a in answers]
    gold = aids.index(int(row["ra"]))  # ``ra`` is a string id locally, an int on the hub
    meta = {"category": row.get("category"), "option_chars": [len(o) for o in options]}
    return Item(f"{row['name']}-{row['qid']}", {"question": str(row["qtext"]).strip(), "options": options}, gold, meta)


def load_headqa(data_dir: Path | None, limit: int | None) -> list[Item]:
    """The 2742 English test questions, from ``data_dir/headqa`` or the hub."""
    if data_dir is not None:
        path = Path(data_dir) / "headqa" / "test_HEAD_EN.json"
        if not path.is_file():
            raise DataError(f"data file {path} not found", "check --data-dir or drop it to load from the hub")
        try:
            rows = flatten_exams(json.loads(read_text(path)))
        except json.JSONDecodeError as err:
            raise DataError(f"malformed JSON in {path} at line {err.lineno}", "repair or re-download that file") from err
    else:
        rows = load_hub("EleutherAI/headqa", config="en", split="test")
    items = []
    for index, row in enumerate(rows):
        try:
            items.append(headqa_item(row))
        except (KeyError, ValueError) as err:
            raise DataError(f"HEAD-QA row {index + 1} is malformed ({err!r})", "check that the file is HEAD-QA's published format") from err
    return take(items, limit)


def loglikelihood_choice(record: dict[str, Any], option_chars: Sequence[int] | None = None) -> tuple[int, int]:
    """The options chosen by summed log-probability (acc) and by log-probability per character (acc_norm).

    ``record`` is the stored JSON (``logprob`` and ``chars`` lists, one entry per option);
    ``option_chars`` are the options' lengths without the joining space (lm-eval's ``acc_norm``);
    without them the stored continuation lengths are used.
    """
    logprobs = [float(x) for x in record["logprob"]]
    chars = list(option_chars) if option_chars is not None else [int(c) for c in record["chars"]]
    if not logprobs or len(chars) != len(logprobs):
        raise ValueError("one log-probability and one length per option are needed")
    acc = max(range(len(logprobs)), key=lambda i: logprobs[i])
    acc_norm = max(range(len(logprobs)), key=lambda i: logprobs[i] / max(1, chars[i]))
    return acc, acc_norm


@dataclass(frozen=True)
class HeadQA:
    """HEAD-QA scored by option log-likelihoods (the study's way)."""

    name: str = "headqa"
    group: Group = "other"
    hf_id: str = "EleutherAI/headqa"
    prompt_styles: tuple[str, ...] = ("default", "paper")  # both: lm-eval's headqa_en
    scorer: str = "loglikelihood"
    mode: str = "loglikelihood"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items (see :func:`load_headqa`)."""
        return load_headqa(data_dir, limit)

    def _context(self, item: Item, style: str) -> str:
        if style not in self.prompt_styles:
            raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
        return CONTEXT_TEMPLATE.format(question=item.fields["question"])

    def loglikelihood_requests(self, item: Item, style: str = "default") -> list[tuple[str, str]]:
        """One (context, " " + option) pair per option, in option order."""
        context = self._context(item, style)
        return [(context, " " + option) for option in item.fields["options"]]

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The scored context as one user message (for display; scoring uses the raw context)."""
        return [{"role": "user", "content": self._context(item, style)}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """Nothing is generated."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """acc in ``score``; ``extracted`` is JSON ``{"acc": letter, "acc_norm": letter, "acc_norm_correct": 0|1}``."""
        verdicts = []
        for item, answer in zip(items, answers, strict=True):
            try:
                record = json.loads(answer)
                chars = item.meta.get("option_chars")
                acc, acc_norm = loglikelihood_choice(record, chars)
                if not all(math.isfinite(float(x)) for x in record["logprob"]):
                    raise ValueError("a log-probability is not finite")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                verdicts.append(Verdict(0.0, None, "error"))
                continue
            letters = letters_for(len(record["logprob"]))
            gold = int(item.reference)
            detail = {"acc": letters[acc], "acc_norm": letters[acc_norm], "acc_norm_correct": int(acc_norm == gold)}
            verdicts.append(Verdict(1.0 if acc == gold else 0.0, json.dumps(detail, sort_keys=True), "ok"))
        return verdicts


@dataclass(frozen=True)
class HeadQAGen:
    """HEAD-QA answered by generation, the letter extracted from the final answer."""

    name: str = "headqa_gen"
    group: Group = "other"
    hf_id: str = "EleutherAI/headqa"
    prompt_styles: tuple[str, ...] = ("default",)
    scorer: str = "choice"
    mode: str = "generate"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items (see :func:`load_headqa`); the reference is the gold option's index."""
        return load_headqa(data_dir, limit)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The question, the options one per line ("A) ..."), and the boxed-letter instruction."""
        if style not in self.prompt_styles:
            raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
        options = item.fields["options"]
        letters = letters_for(len(options))
        listed = "\n".join(f"{letter}) {text}" for letter, text in zip(letters, options))
        instruction = GEN_INSTRUCTION.format(letters=", ".join(letters[:-1]) + " or " + letters[-1])
        return [{"role": "user", "content": f"{item.fields['question']}\n\n{listed}\n\n{instruction}"}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """1 when the final answer's letter is the gold option's."""
        out: list[Verdict] = []
        for item, answer in zip(items, answers, strict=True):
            letters = letters_for(len(item.meta.get("option_chars") or "ABCD"))
            out += choice_verdicts([answer], [letters[int(item.reference)]], partial(locate_letter, letters=letters))
        return out
