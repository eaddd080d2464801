"""Math-only training data: prompt sets with reference answers, and SFT files in chat format.

Prompt sets (``--prompts``):

- ``math_train``: the paper's mix, MATH levels 3-5 plus DeepScaleR. From ``--data-dir`` (laid out
  like shared/data): ``math_train/math.json`` (levels 3-5 kept) plus ``deepscaler_train/aime.json``
  (the only part of DeepScaleR kept there). From the hub: ``EleutherAI/hendrycks_math`` (train,
  levels 3-5, the answer is the last ``\\boxed{}`` of the solution) plus
  ``agentica-org/DeepScaleR-Preview-Dataset`` (train, about 40k).
- ``deepscaler``: DeepScaleR only (local: its AIME part; hub: the whole set).
- a path to a ``.json`` list or ``.jsonl`` file of objects with ``problem`` (or ``question``) and
  ``answer``.

Problems are deduplicated by their whitespace-normalised text; every prompt must carry a reference
answer (the reward and the rejection filter need one): in a user's file a row without one is a
:class:`DataError` naming the row; the published sets' few rows without an answer are skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub
from transferlab.benchmarks.math import DEFAULT_INSTRUCTION
from transferlab.errors import DataError
from transferlab.io import json_lines, read_json_list, read_jsonl

MATH_HUB = "EleutherAI/hendrycks_math"
MATH_CONFIGS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory", "prealgebra", "precalculus")
DEEPSCALER_HUB = "agentica-org/DeepScaleR-Preview-Dataset"
MIN_LEVEL = 3
PROMPT_SETS = ("math_train", "deepscaler")
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class MathPrompt:
    """One training problem: a stable id (hash of the text), the question, its reference answer.

    ``style`` is the math scorer's extraction ("boxed", or "gsm8k": boxed, else ``#### N``, else
    the last number), as the benchmarks use it.
    """

    id: str
    question: str
    answer: str
    source: str
    style: str = "boxed"

    def messages(self) -> list[dict[str, str]]:
        """The chat prompt: the evaluation's default math instruction (benchmarks.math)."""
        return [{"role": "user", "content": f"{self.question}\n\n{DEFAULT_INSTRUCTION}"}]


def _level(value: Any) -> int | None:
    """MATH levels come as 3, 3.0, "3.0" or "Level 3"; None when unknown ("Level ?")."""
    text = str(value).replace("Level", "").strip()
    try:
        return int(float(text))
    except ValueError:
        return None


def _prompt(row: dict[str, Any], where: str, number: int, source: str) -> MathPrompt:
    question = row.get("problem", row.get("question"))
    answer = row.get("answer")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: row {number} has no problem text", "give every row a 'problem' (or 'question') field")
    if answer is None or not str(answer).strip():
        raise DataError(
            f"{where}: row {number} has no reference answer", "give every row an 'answer' (rejection sampling and the reward need one) or drop the row"
        )
    style = row.get("answer_style") or "boxed"
    if style not in ("boxed", "gsm8k"):
        raise DataError(f"{where}: row {number} has answer_style {style!r}", "use boxed or gsm8k")
    key = " ".join(question.split())
    return MathPrompt(hashlib.sha256(key.encode()).hexdigest()[:16], question, str(answer).strip(), source, style)


def _has_answer(row: dict[str, Any]) -> bool:
    return row.get("answer") is not None and bool(str(row["answer"]).strip())


def _math_local(data_dir: Path) -> list[MathPrompt]:
    # The published file has 4 rows whose answer is null (DeepScaleR's extraction failed): skipped.
    path = data_dir / "math_train" / "math.json"
    rows = read_json_list(path)
    return [_prompt(r, str(path), i + 1, "math") for i, r in enumerate(rows) if (_level(r.get("difficulty")) or 0) >= MIN_LEVEL and _has_answer(r)]


def _deepscaler_local(data_dir: Path) -> list[MathPrompt]:
    path = data_dir / "deepscaler_train" / "aime.json"
    return [_prompt(r, str(path), i + 1, "deepscaler") for i, r in enumerate(read_json_list(path))]


def _math_hub() -> list[MathPrompt]:
    from transferlab.scoring.extract import last_boxed

    out = []
    for config in MATH_CONFIGS:
        for i, row in enumerate(load_hub(MATH_HUB, config=config, split="train")):
            answer = last_boxed(row.get("solution", ""))
            if (_level(row.get("level")) or 0) >= MIN_LEVEL and answer:  # a solution without a boxed answer is skipped
                out.append(_prompt({"problem": row["problem"], "answer": answer}, f"{MATH_HUB}/{config}", i + 1, "math"))
    return out


def _deepscaler_hub() -> list[MathPrompt]:
    return [_prompt(r, DEEPSCALER_HUB, i + 1, "deepscaler") for i, r in enumerate(load_hub(DEEPSCALER_HUB, split="train"))]


def _file(path: Path) -> list[MathPrompt]:
    rows = list(read_jsonl(path)) if path.suffix in (".jsonl", ".gz") else read_json_list(path)
    return [_prompt(r, str(path), i + 1, path.stem) for i, r in enumerate(rows)]


def dedupe(prompts: list[MathPrompt]) -> list[MathPrompt]:
    """The first prompt of each distinct problem text, in order."""
    seen: dict[str, MathPrompt] = {}
    for p in prompts:
        seen.setdefault(p.id, p)
    return list(seen.values())


def load_prompts(name: str, data_dir: Path | None = None, limit: int | None = None) -> list[MathPrompt]:
    """A prompt set by name (see the module docstring) or from a file; ``limit`` keeps the first N."""
    path = Path(name).expanduser()
    if name == "math_train":
        prompts = (_math_local(data_dir) + _deepscaler_local(data_dir)) if data_dir else (_math_hub() + _deepscaler_hub())
    elif name == "deepscaler":
        prompts = _deepscaler_local(data_dir) if data_dir else _deepscaler_hub()
    elif path.is_file():
        prompts = _file(path)
    else:
        raise DataError(
            f"unknown prompt set {name!r}: not {' or '.join(PROMPT_SETS)} and no such file",
            "pass --prompts math_train, deepscaler or a .json/.jsonl file of problem/answer rows",
        )
    prompts = dedupe(prompts)
    if not prompts:
        raise DataError(f"the prompt set {name!r} is empty", "check the file or --data-dir")
    return prompts if limit is None else prompts[: max(1, limit)]


# -- SFT files -------------------------------------------------------------------------------


def _check_messages(messages: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: expected a non-empty list of messages", 'write messages as [{"role": ..., "content": ...}]')
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise DataError(f"{where}: a message is not {{role: system|user|assistant, content: text}}", "fix that line of the SFT file")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def sft_example(row: Any, where: str) -> dict[str, list[dict[str, str]]]:
    """One SFT example as TRL's conversational prompt-completion pair.

    Accepts ``{"prompt": [...], "completion": [...]}`` or ``{"messages": [...]}`` (the last message
    is the completion); the completion must be an assistant message.
    """
    if not isinstance(row, dict):
        raise DataError(f"{where} is not a JSON object", 'write one {"prompt": [...], "completion": [...]} object per line')
    if "messages" in row:
        messages = _check_messages(row["messages"], where)
        prompt, completion = messages[:-1], messages[-1:]
    elif "prompt" in row and "completion" in row:
        prompt, completion = _check_messages(row["prompt"], where), _check_messages(row["completion"], where)
    else:
        raise DataError(f"{where} has neither 'messages' nor 'prompt' and 'completion'", "write chat-format SFT rows (transferlab distill writes them)")
    if not prompt or completion[-1]["role"] != "assistant":
        raise DataError(f"{where}: needs a prompt and an assistant completion", "end each example with the assistant's answer")
    return {"prompt": prompt, "completion": completion}


def read_sft_jsonl(path: str | Path) -> list[dict[str, list[dict[str, str]]]]:
    """Every example of an SFT JSON Lines file; a malformed line is a :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"SFT data file {path} not found", "run `transferlab distill ... --out FILE` first or check the path")
    examples = []
    for number, row in json_lines(path, fix="repair or remove that line"):
        examples.append(sft_example(row, f"line {number} of {path}"))
    if not examples:
        raise DataError(f"{path} holds no examples", "distill some traces first")
    return examples
