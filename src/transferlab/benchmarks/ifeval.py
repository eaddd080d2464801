"""IFEval (google/IFEval, 541 prompts): Google's verifiable-instruction checkers, strict and loose.

The prompt is sent as it is (the ``default`` and ``paper`` styles are the same: IFEval's prompts are
the instructions). Thinking is removed before checking (the pipeline does it), as in the study.

Four accuracies come out of IFEval. The stored score of each response is the **strict
prompt-level** pass (1 when every instruction was followed strictly); the stored ``extracted``
field holds the per-instruction flags as compact JSON, ``{"strict": [1, 0], "loose": [1, 1]}``, so
:func:`accuracies_from_extracted` re-derives all four from the store without checking again, and
:func:`ifeval_four` computes them from stored answers by running the checkers again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_rows, take
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.items import Item, ScoringContext, Verdict
from transferlab.scoring.ifeval_checks import IFEvalCase, IFEvalCheck, check_response, ifeval_accuracies

Row = dict[str, Any]


def ifeval_item(row: Row) -> Item:
    """An item from a ``google/IFEval`` row; the reference holds what the checkers need."""
    case = IFEvalCase.from_row(row)
    reference = {"prompt": case.prompt, "instruction_id_list": list(case.instruction_id_list), "kwargs": [dict(k) for k in case.kwargs]}
    return Item(str(case.key), {"prompt": case.prompt}, reference, {"n_instructions": len(case.instruction_id_list)})


def case_of(item: Item) -> IFEvalCase:
    """The checker input of an item (only its id and reference are needed: what the store keeps)."""
    return IFEvalCase.from_row({"key": item.id, **item.reference})


def encode_check(check: IFEvalCheck) -> str:
    """Per-instruction flags as compact JSON (the stored ``extracted`` text)."""
    return json.dumps({"strict": [int(x) for x in check.strict], "loose": [int(x) for x in check.loose]}, separators=(",", ":"))


def decode_check(extracted: str | None, n_instructions: int) -> IFEvalCheck:
    """The flags back from :func:`encode_check`; ``None`` (never checked, e.g. unclosed thinking)
    counts as every instruction failed."""
    if extracted is None:
        return IFEvalCheck((False,) * n_instructions, (False,) * n_instructions)
    data = json.loads(extracted)
    return IFEvalCheck(tuple(bool(x) for x in data["strict"]), tuple(bool(x) for x in data["loose"]))


def accuracies_from_extracted(extracted: Sequence[str | None], n_instructions: Sequence[int]) -> dict[str, float]:
    """IFEval's four accuracies from stored ``extracted`` fields (one per response), in [0, 1]."""
    return ifeval_accuracies([decode_check(e, n) for e, n in zip(extracted, n_instructions, strict=True)])


def ifeval_four(items: Sequence[Item], answers: Sequence[str]) -> dict[str, float]:
    """IFEval's four accuracies from answers (thinking removed), re-running the checkers."""
    return ifeval_accuracies([check_response(case_of(i), a) for i, a in zip(items, answers, strict=True)])


@dataclass(frozen=True)
class IFEval:
    """IFEval (see the module docstring)."""

    name: str = "ifeval"
    group: Group = "non"
    hf_id: str = "google/IFEval"
    hf_split: str = "train"
    local_path: str = "ifeval/input_data.jsonl"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    scorer: str = "ifeval"
    mode: str = "generate"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The 541 prompts, from ``data_dir/ifeval/input_data.jsonl`` or the hub."""
        rows, _ = load_rows(
            data_dir, self.local_path, self.hf_id, split=self.hf_split, fields=("key", "prompt", "instruction_id_list", "kwargs"), what="IFEval prompts"
        )
        return take([ifeval_item(row) for row in rows], limit)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The prompt as the one user message."""
        if style not in self.prompt_styles:
            raise DataError(f"ifeval has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
        return [{"role": "user", "content": item.fields["prompt"]}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """Strict prompt-level pass as the score; every flag in ``extracted``."""
        verdicts = []
        for item, answer in zip(items, answers, strict=True):
            check = check_response(case_of(item), answer)
            status = "ok" if answer.strip() else "no_answer"
            verdicts.append(Verdict(1.0 if check.prompt_strict and status == "ok" else 0.0, encode_check(check), status))
        return verdicts
