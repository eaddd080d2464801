"""CoQA (validation): the last turn of each of the 500 stories, with the conversation so far.

Each item is one story; the model sees the story and every earlier question with its answer, and
answers the last question. The answer is scored against every reference answer of that turn (the
main one and the additional ones, case-insensitive duplicates dropped) with SQuAD's normalisation
(lower case, no punctuation, no articles, single spaces): exact match (EM) and token F1, each the
maximum over the references. The stored score is F1 by default (``CoQA(metric="em")`` stores EM);
either can be recomputed from the stored extracted answer with :func:`coqa_em_f1`.
``leave_one_out=True`` is the study's scorer (lm-eval's ``coqa`` as the study's fork of it reads a
reasoning model's output, :func:`study_answer`): it reads the whole completion, drops everything up
to the last ``</think>``, keeps the first line, and averages over the references the maximum
against the others instead of taking the maximum (the official CoQA script).

Prompt styles:

- ``paper``: lm-eval's ``coqa`` prompt, ``story\\n\\nQ: q1\\n\\nA: a1\\n\\n...Q: qn\\n\\nA:``, stop at
  ``"\\nQ:"``; the answer is the first line of the completion (as lm-eval reads it).
- ``default``: the same transcript, then an instruction to give only a short answer, so chat and
  reasoning models answer in the references' style.

An answer's text (default scorer): the part after the last ``Answer:`` / ``A:`` label when there is
one, else the first non-empty line (thinking is removed before scoring).
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_rows, take
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.items import Item, ScoringContext, Verdict

Row = dict[str, Any]

DEFAULT_INSTRUCTION = (
    "Answer the last question of this conversation about the story above. Answer the way the earlier "
    "answers do: a few words, taken from the story where possible, with no explanation."
)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
_LABEL = re.compile(r"^\W*(?:final\s+answer|answer|a)\s*[:：]\s*(?:\*\*)?\s*", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# SQuAD-style metrics (the official SQuAD v2.0 evaluation functions)
# --------------------------------------------------------------------------------------------


def normalize_squad(text: str) -> str:
    """Lower case, drop punctuation, drop the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(gold: str, pred: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_squad(gold) == normalize_squad(pred))


def token_f1(gold: str, pred: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (bag of tokens).

    When either side is empty after normalisation, 1.0 only if both are.
    """
    gold_tokens, pred_tokens = normalize_squad(gold).split(), normalize_squad(pred).split()
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    same = sum((collections.Counter(gold_tokens) & collections.Counter(pred_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def coqa_em_f1(references: Sequence[str], pred: str, *, leave_one_out: bool = False) -> tuple[float, float]:
    """(EM, F1) of ``pred`` against ``references``, each in [0, 1].

    Default: the maximum over the references. ``leave_one_out``: for each reference, the maximum
    over the *other* references, averaged (CoQA's official script; with one reference, the plain
    maximum).
    """
    if not references:
        raise ValueError("a CoQA item needs at least one reference answer")
    if leave_one_out and len(references) > 1:
        rest = [list(references[:i]) + list(references[i + 1 :]) for i in range(len(references))]
        em = sum(max(exact_match(g, pred) for g in others) for others in rest) / len(rest)
        f1 = sum(max(token_f1(g, pred) for g in others) for others in rest) / len(rest)
        return em, f1
    return max(exact_match(g, pred) for g in references), max(token_f1(g, pred) for g in references)


def extract_short_answer(answer: str) -> str | None:
    """The answer text: after the last ``Answer:``/``A:`` label, else the first non-empty line."""
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        return None
    for line in reversed(lines):
        labelled = _LABEL.match(line)
        if labelled and line[labelled.end() :].strip():
            return line[labelled.end() :].strip().strip("*").strip()
    return lines[0]


def study_answer(completion: str) -> str:
    """The answer as the study's code reads a whole completion: stripped, everything up to the last
    ``</think>`` (and the newlines after it) dropped, then the first line (possibly empty)."""
    pred = completion.strip()
    close = pred.rfind("</think>")
    if close >= 0:
        pred = pred[close + len("</think>") :].strip()
    return pred.split("\n")[0]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def unique_references(answers: Sequence[str]) -> list[str]:
    """References in order without case-insensitive duplicates (as lm-eval's ``doc_to_target``)."""
    kept: list[str] = []
    for a in answers:
        if a.lower() not in (k.lower() for k in kept):
            kept.append(a)
    return kept


def _turn_references(row: Row, turn: int) -> list[str]:
    """The reference answers of (0-based) ``turn``: local ``all_answers`` or hub ``additional_answers``."""
    if "all_answers" in row:
        return unique_references([str(a) for a in row["all_answers"][turn]])
    answers = [row["answers"]["input_text"][turn]]
    for extra in (row.get("additional_answers") or {}).values():
        if extra and turn < len(extra["input_text"]):
            answers.append(extra["input_text"][turn])
    return unique_references([str(a) for a in answers])


def coqa_item(row: Row, index: int) -> Item:
    """One story as an item about its last turn."""
    questions = [str(q) for q in row["questions"]["input_text"]]
    answers = [str(a) for a in row["answers"]["input_text"]]
    if not questions or len(answers) != len(questions):
        raise DataError(
            f"CoQA story {row.get('id', index)} has {len(questions)} questions and {len(answers)} answers", "check that the file is CoQA's published format"
        )
    last = len(questions) - 1
    fields = {"story": row["story"], "questions": questions, "history": answers[:last]}
    return Item(str(row.get("id") or index), fields, _turn_references(row, last), {"turn": last + 1, "source": row.get("source")})


def transcript(item: Item) -> str:
    """lm-eval's ``coqa`` text: the story, the earlier turns, and the last question ending ``A:``."""
    parts = [item.fields["story"] + "\n\n"]
    for q, a in zip(item.fields["questions"][:-1], item.fields["history"]):
        parts.append(f"Q: {q}\n\nA: {a}\n\n")
    parts.append(f"Q: {item.fields['questions'][-1]}\n\nA:")
    return "".join(parts)


@dataclass(frozen=True)
class CoQA:
    """CoQA's last turns (see the module docstring); ``metric`` picks the stored score."""

    metric: str = "f1"
    leave_one_out: bool = False
    name: str = "coqa"
    group: Group = "non"
    hf_id: str = "EleutherAI/coqa"
    hf_split: str = "validation"
    local_path: str = "coqa/validation.jsonl.gz"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    mode: str = "generate"

    @property
    def scorer(self) -> str:
        """``coqa-f1`` / ``coqa-em`` (``-loo`` when references are left out in turn)."""
        return f"coqa-{self.metric}" + ("-loo" if self.leave_one_out else "")

    @property
    def raw_completion(self) -> bool:
        """The study's scorer (``leave_one_out``) reads the whole completion, as the study's code did."""
        return self.leave_one_out

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """One item per story, from ``data_dir/coqa/validation.jsonl.gz`` or the hub."""
        rows, _ = load_rows(data_dir, self.local_path, self.hf_id, split=self.hf_split, fields=("story", "questions", "answers"), what="CoQA stories")
        return take([coqa_item(row, i) for i, row in enumerate(rows)], limit)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """One user message: the transcript (``paper``), or the transcript and an instruction."""
        if style == "paper":
            return [{"role": "user", "content": transcript(item)}]
        if style == "default":
            text = transcript(item).removesuffix("A:").rstrip()
            return [{"role": "user", "content": f"{text}\n\n{DEFAULT_INSTRUCTION}"}]
        raise DataError(f"coqa has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """lm-eval stops the ``paper`` prompt at a new question."""
        return ("\nQ:",) if style == "paper" else ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """EM or F1 (max over references, or the study's leave-one-out mean) of each extracted answer."""
        verdicts = []
        for item, answer in zip(items, answers, strict=True):
            pred = study_answer(answer) if self.leave_one_out else extract_short_answer(answer)
            if pred is None:
                verdicts.append(Verdict(0.0, None, "no_answer"))
                continue
            em, f1 = coqa_em_f1(item.reference, pred, leave_one_out=self.leave_one_out)
            verdicts.append(Verdict(em if self.metric == "em" else f1, pred, "ok"))
        return verdicts
