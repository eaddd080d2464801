"""lm-evaluation-harness ``--log_samples`` output read as :class:`~transferlab.pipeline.imported.Imported` rows.

lm-eval writes one ``samples_<task>_<date>.jsonl`` per task beside ``results_<date>.json``. Each
line is one document under one filter: ``doc_id``, ``doc`` (the dataset row), ``target``,
``arguments`` (``{"gen_args_0": {"arg_0": context, "arg_1": generation kwargs}}``; older
releases: ``[[context, kwargs]]``), ``resps`` (``[[text, ...]]``: the raw generations, one per
repeat), ``filtered_resps``, ``filter`` and the metrics. A task with several filters (gsm8k's
``strict-match`` and ``flexible-extract``) repeats each document once per filter with the same
raw generations: one completion is imported per document and repeat, from ``resps`` (the raw
text; our own scorer extracts the answer), never from ``filtered_resps``.

Tasks map to our benchmarks by :data:`LM_EVAL_TASKS`, or by ``--benchmark`` for a task of your
own; a log-likelihood task (``arguments`` holding continuations) is refused: only generated text
is imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import Benchmark
from transferlab.errors import DataError
from transferlab.io import read_jsonl
from transferlab.items import Item
from transferlab.pipeline.imported import Imported

__all__ = ["LM_EVAL_TASKS", "read_lm_eval_samples", "task_of"]

# lm-eval task -> our benchmark (only tasks whose documents are the same rows as ours).
LM_EVAL_TASKS: dict[str, str] = {
    "gsm8k": "gsm8k",
    "gsm8k_cot": "gsm8k",
    "gsm8k_cot_zeroshot": "gsm8k",
    "gsm8k_cot_llama": "gsm8k",
    "gsm8k_cot_self_consistency": "gsm8k",
    "ifeval": "ifeval",
}

# How a document names our item, where the benchmark cannot rebuild the item from the document.
_DOC_IDS: dict[str, Callable[[dict[str, Any], int], str]] = {
    "ifeval": lambda doc, doc_id: str(doc["key"]),
}

_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl(\.gz)?$")


def task_of(path: Path) -> str:
    """The task in an lm-eval samples file's name (``samples_<task>_<date>.jsonl``)."""
    match = _SAMPLES_NAME.match(path.name)
    if match is None:
        raise DataError(f"{path.name} is not named like lm-eval's samples_<task>_<date>.jsonl", "pass --task NAME to say which task it holds")
    return match["task"]


def _context_and_kwargs(arguments: Any, where: str) -> tuple[str, dict[str, Any]]:
    """The prompt and generation kwargs of one request (both of lm-eval's layouts)."""
    if isinstance(arguments, dict):
        requests = [arguments[k] for k in sorted(arguments)]
        pairs = [(r.get("arg_0"), r.get("arg_1")) for r in requests if isinstance(r, dict)]
    elif isinstance(arguments, list):
        pairs = [(r[0], r[1] if len(r) > 1 else None) for r in arguments if isinstance(r, list) and r]
    else:
        pairs = []
    if not pairs or not isinstance(pairs[0][0], str):
        raise DataError(f"{where}: no request context in 'arguments'", "import the samples_<task>_<date>.jsonl that lm-eval --log_samples wrote")
    context, kwargs = pairs[0]
    if isinstance(kwargs, str) or len(pairs) > 1:
        raise DataError(
            f"{where}: a log-likelihood request (context, continuation)", "only generate_until tasks can be imported: their generated text is scored here"
        )
    return str(context), dict(kwargs or {})


def _item(benchmark: Benchmark, doc: dict[str, Any], doc_id: int) -> tuple[str, Item | None]:
    """Our item id for a document, and the item itself where the benchmark can build it from the row."""
    to_item: Callable[[dict[str, Any], int], Item] | None = getattr(benchmark, "to_item", None)
    if to_item is not None:
        try:
            item = to_item(doc, doc_id)
        except KeyError as err:
            raise DataError(f"lm-eval's documents lack the field {err} that {benchmark.name} needs", f"import only {benchmark.name}'s own task") from err
        return item.id, item
    name_of = _DOC_IDS.get(benchmark.name)
    if name_of is not None:
        return name_of(doc, doc_id), None
    return str(doc.get("id", doc_id)), None


def read_lm_eval_samples(path: Path, model: str, benchmark: Benchmark, *, task: str) -> list[Imported]:
    """One :class:`Imported` per document and repeat of an lm-eval samples file.

    ``model``: the name to store the completions under; ``task``: the lm-eval task (part of the
    settings key, with its generation kwargs).
    """
    seen: set[int] = set()
    rows: list[Imported] = []
    for number, sample in enumerate(read_jsonl(path), start=1):
        where = f"{path} line {number}"
        missing = [f for f in ("doc_id", "doc", "arguments", "resps") if f not in sample]
        if missing:
            raise DataError(f"{where} lacks {', '.join(missing)}", "import the samples_<task>_<date>.jsonl that lm-eval --log_samples wrote")
        doc_id = int(sample["doc_id"])
        if doc_id in seen:  # the same document under another filter: the same generations
            continue
        seen.add(doc_id)
        context, kwargs = _context_and_kwargs(sample["arguments"], where)
        generations = sample["resps"][0] if sample["resps"] and isinstance(sample["resps"][0], list) else sample["resps"]
        if not all(isinstance(g, str) for g in generations):
            raise DataError(f"{where}: 'resps' holds no generated text", "only generate_until tasks can be imported")
        item_id, item = _item(benchmark, dict(sample["doc"]), doc_id)
        settings = {"task": task, "generation_kwargs": json.loads(json.dumps(kwargs, default=str))}
        for index, text in enumerate(generations):
            rows.append(Imported(model, benchmark.name, item_id, context, text, sample_index=index, settings=settings, item=item))
    if not rows:
        raise DataError(f"{path} holds no samples", "check that lm-eval ran with --log_samples")
    return rows


def lm_eval_benchmark(task: str, benchmark: str | None) -> str:
    """Our benchmark for an lm-eval task: ``benchmark`` when given, else :data:`LM_EVAL_TASKS`'s."""
    if benchmark:
        return benchmark
    if task not in LM_EVAL_TASKS:
        raise DataError(
            f"lm-eval task {task!r} has no transferlab benchmark (known: {', '.join(sorted(LM_EVAL_TASKS))})",
            "pass --benchmark NAME to say which benchmark its documents are (their rows must be that benchmark's)",
        )
    return LM_EVAL_TASKS[task]
