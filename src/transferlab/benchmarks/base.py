"""The benchmark protocol: items, prompts, scoring; and the loaders for local and hub data.

A benchmark yields :class:`~transferlab.items.Item` s (from its Hugging Face id by default, or from a local folder laid
out like ``shared/data``), renders each item as chat messages in a named prompt style, and scores a
batch of answers (thinking already split off) into :class:`~transferlab.items.Verdict` s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import read_jsonl
from transferlab.items import Item, ScoringContext, Verdict


class Benchmark(Protocol):
    """What every benchmark provides.

    ``mode`` is ``"generate"`` (the model writes an answer that :meth:`score` grades) or
    ``"loglikelihood"``: the benchmark then also has ``loglikelihood_requests(item, style) ->
    list[tuple[str, str]]`` (one (context, continuation) pair per option), the store keeps one
    record per item whose text is the JSON of the options' ``logprob``, ``n_tokens``,
    ``is_greedy`` and ``chars`` lists, and :meth:`score` receives that JSON text as the answer.

    A benchmark whose scorer is a study's own (``--paper-scoring``) may set ``raw_completion =
    True``: :meth:`score` then receives each whole completion, thinking included, as the study's
    code read it (the thinking split is still recorded).
    """

    # Read-only: the benchmarks are frozen dataclasses.
    @property
    def name(self) -> str: ...
    @property
    def group(self) -> Group: ...
    @property
    def hf_id(self) -> str: ...
    @property
    def prompt_styles(self) -> tuple[str, ...]: ...
    @property
    def scorer(self) -> str: ...
    @property
    def mode(self) -> str: ...

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


class LoglikelihoodBenchmark(Benchmark, Protocol):
    """A benchmark of mode ``"loglikelihood"``: its options are scored, not generated."""

    def loglikelihood_requests(self, item: Item, style: str = "default") -> list[tuple[str, str]]:
        """One (context, continuation) pair per option of ``item``."""
        ...


def load_hub(hf_id: str, *, config: str | None = None, split: str = "test") -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset split (needs network access or a warm ``datasets`` cache)."""
    try:
        import datasets

        ds = datasets.load_dataset(hf_id, config, split=split)
    except Exception as err:  # any failure of the hub becomes one actionable line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"could not load {hf_id} ({config or 'default'}, {split}) from the hub: {first}", "check the network or pass --data-dir with local copies"
        ) from err
    return [dict(row) for row in ds]


def load_rows(
    data_dir: Path | None,
    local_path: str,
    hf_id: str,
    *,
    split: str,
    config: str | None = None,
    fields: Sequence[str] = (),
    what: str = "items",
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
