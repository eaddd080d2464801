"""The benchmark protocol: items, prompts, scoring; and the readers for local and hub data.

A benchmark yields :class:`Item` s (from its Hugging Face id by default, or from a local folder laid
out like ``shared/data``), renders each item as chat messages in a named prompt style, and scores a
batch of answers (thinking already split off) into :class:`Verdict` s.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from transferlab.groups import Group
from transferlab.errors import DataError


@dataclass(frozen=True)
class Item:
    """One benchmark question.

    ``fields`` holds what prompts are rendered from (question text, options...), ``reference`` the
    gold answer(s), ``meta`` anything a scorer needs besides (units, answer types...).
    """

    id: str
    fields: dict[str, Any]
    reference: Any
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """A scorer's judgement of one answer: ``score`` in [0, 1], the extracted answer, a status.

    ``status`` is ``"ok"`` when the scorer could judge, else why not (``"no_answer"``,
    ``"truncated"``, ``"timeout"``, ``"error"``); a non-ok answer always scores 0. ``details``
    holds secondary metrics (acc_norm, IFEval's loose and instruction-level results...), stored
    with the score.
    """

    score: float
    extracted: str | None
    status: str = "ok"
    details: dict[str, Any] | None = None


class ScoringContext(Protocol):
    """Shared, lazily started scoring resources (the math worker pool...)."""

    def math_grader(self) -> Any:
        """The process pool that checks math answers."""
        ...


class Benchmark(Protocol):
    """What every benchmark provides.

    ``mode`` is ``"generate"`` (the model writes an answer that :meth:`score` grades) or
    ``"loglikelihood"``: the benchmark then also has ``loglikelihood_requests(item, style) ->
    list[tuple[str, str]]`` (one (context, continuation) pair per option), the store keeps one
    record per item whose text is the JSON of the options' ``logprob``, ``n_tokens``,
    ``is_greedy`` and ``chars`` lists, and :meth:`score` receives that JSON text as the answer.
    """

    name: str
    group: Group
    hf_id: str
    prompt_styles: tuple[str, ...]
    scorer: str
    mode: str

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items, from ``data_dir`` (a ``shared/data``-like folder) or the hub."""
        ...

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The chat messages for an item in a prompt style."""
        ...

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """Stop strings the prompt style needs (e.g. a few-shot separator)."""
        ...

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """Score answers (thinking removed) against their items, in order."""
        ...


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines file (``.gz`` too); a malformed line is a :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir (it must be laid out like shared/data) or drop it to load from the hub")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"malformed JSON in {path} at line {number} ({err.msg})", "repair or re-download that file") from err
            if not isinstance(row, dict):
                raise DataError(f"line {number} of {path} is not a JSON object", "repair or re-download that file")
            yield row


def read_json_list(path: Path) -> list[dict[str, Any]]:
    """A file holding one JSON list of objects."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir or drop it to load from the hub")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON in {path} at line {err.lineno} ({err.msg})", "repair or re-download that file") from err
    if not isinstance(rows, list):
        raise DataError(f"{path} does not hold a JSON list", "repair or re-download that file")
    return rows


def load_hub(hf_id: str, *, config: str | None = None, split: str = "test") -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset split (needs network access or a warm ``datasets`` cache)."""
    try:
        import datasets

        ds = datasets.load_dataset(hf_id, config, split=split)
    except Exception as err:  # noqa: BLE001 - any failure of the hub becomes one actionable line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"could not load {hf_id} ({config or 'default'}, {split}) from the hub: {first}", "check the network or pass --data-dir with local copies") from err
    return [dict(row) for row in ds]


def load_rows(
    data_dir: Path | None, local_path: str, hf_id: str, *, split: str, config: str | None = None,
    fields: Sequence[str] = (), what: str = "items",
) -> tuple[list[dict[str, Any]], str]:
    """A benchmark's raw rows, from ``data_dir/local_path`` (JSON Lines) or the hub, checked.

    Returns ``(rows, where)``; no rows, or a row lacking one of ``fields``, is a :class:`DataError`.
    """
    if data_dir is not None:
        path = Path(data_dir) / local_path
        rows, where = list(read_jsonl(path)), str(path)
    else:
        rows, where = load_hub(hf_id, config=config, split=split), hf_id
    if not rows:
        raise DataError(f"{where} holds no {what}", "check the file or the dataset id")
    for row in rows:
        require_fields(row, fields, where)
    return rows, where


def require_fields(row: dict[str, Any], names: Sequence[str], where: str) -> None:
    """Raise a :class:`DataError` when a row lacks one of ``names``."""
    missing = [n for n in names if n not in row]
    if missing:
        raise DataError(f"{where}: a row lacks the field(s) {', '.join(missing)}", "check that the file is the benchmark's published format")


def take(items: list[Item], limit: int | None) -> list[Item]:
    """The first ``limit`` items (all when ``limit`` is None)."""
    return items if limit is None else items[: max(0, limit)]
