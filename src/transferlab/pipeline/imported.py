"""Completions made by other tools, put into the store so that ``score``, ``results``, ``ti`` and
``report`` work on them as on generated ones (``transferlab import``).

Two formats are read: a plain JSON Lines file (:func:`read_plain`, one completion a line) and
lm-evaluation-harness ``--log_samples`` output (:mod:`~transferlab.pipeline.lm_eval_samples`).
Both become :class:`Imported` rows, which :func:`import_completions` writes:

- the model is ``name@imported`` (or ``name@REVISION``), so generated and imported completions of
  one model never share a key;
- the settings key (``gen_key``) is a hash of ``{"imported": source, "settings": ...}``: never the
  key of a generation setting, so an imported cell is never mixed with a generated one;
  completions imported from two files made under the same settings (a base and a tuned model)
  share it, so TI compares them;
- every completion's ``run_id`` is ``import-<first 12 hex digits of the file's SHA-256>-<model>`` and
  that run records the source, the file and its full hash: importing the same file again adds nothing
  (the completion keys are the same).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import Benchmark
from transferlab.errors import DataError
from transferlab.io import read_jsonl
from transferlab.items import Item
from transferlab.pipeline.generate import is_loglikelihood, library_versions, remember_definitions
from transferlab.store import CompletionRecord, ModelInfo, Store, completion_key, sha

__all__ = ["IMPORT_REVISION", "Imported", "ImportSummary", "file_sha256", "import_completions", "imported_gen_key", "read_plain"]

IMPORT_REVISION = "imported"  # the model key's tag when none is given: name@imported


@dataclass(frozen=True)
class Imported:
    """One completion made elsewhere.

    ``prompt`` is the text the model was given (a chat is stored as its messages' JSON);
    ``settings`` whatever the source says about how it was sampled (part of the settings key);
    ``item``: the benchmark item, when the source carries it (lm-eval's ``doc``), else it must be
    one the store holds or the benchmark loads.
    """

    model: str
    benchmark: str
    item_id: str
    prompt: str
    response: str
    finish_reason: str = "unknown"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    sample_index: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    item: Item | None = None


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: rows read, completions new to the store, and the run that marks them."""

    run_id: str
    source: str
    sha256: str
    rows: int
    added: int
    models: tuple[str, ...]
    benchmarks: tuple[str, ...]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (64 hex digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def imported_gen_key(source: str, settings: dict[str, Any]) -> str:
    """The settings key of completions imported from ``source`` under ``settings``."""
    return sha(json.dumps({"imported": source, "settings": settings}, sort_keys=True, default=str))


_PLAIN_FIELDS = ("model", "benchmark", "response")


def read_plain(path: Path) -> list[Imported]:
    """Rows of a plain JSON Lines import: ``model``, ``benchmark``, ``item_id`` (or ``id``), ``prompt``
    (a string) or ``messages`` (a chat), ``response``; optional ``finish_reason``,
    ``prompt_tokens``, ``completion_tokens``, ``sample_index`` and ``settings`` (an object)."""
    rows = []
    for number, row in enumerate(read_jsonl(path), start=1):
        where = f"{path} line {number}"
        missing = [f for f in _PLAIN_FIELDS if f not in row] + ([] if ("item_id" in row or "id" in row) else ["item_id"])
        missing += [] if ("prompt" in row or "messages" in row) else ["prompt or messages"]
        if missing:
            raise DataError(f"{where} lacks {', '.join(missing)}", "give every line model, benchmark, item_id, prompt (or messages) and response")
        if not isinstance(row["response"], str):
            raise DataError(f"{where}: response is not a string", "write the completion's text as a JSON string")
        prompt = row["prompt"] if "prompt" in row else json.dumps(row["messages"], ensure_ascii=False)
        settings = row.get("settings") or {}
        if not isinstance(settings, dict):
            raise DataError(f"{where}: settings is not an object", "give settings as a JSON object (e.g. temperature, max_tokens) or leave it out")
        rows.append(
            Imported(
                model=str(row["model"]),
                benchmark=str(row["benchmark"]),
                item_id=str(row.get("item_id", row.get("id"))),
                prompt=str(prompt),
                response=row["response"],
                finish_reason=str(row.get("finish_reason") or "unknown"),
                prompt_tokens=_count(row.get("prompt_tokens"), where),
                completion_tokens=_count(row.get("completion_tokens"), where),
                sample_index=_count(row.get("sample_index"), where),
                settings=settings,
            )
        )
    if not rows:
        raise DataError(f"{path} holds no completions", "check the file")
    return rows


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}: {value!r} is not a count", "token counts and sample_index are whole numbers >= 0")
    return value


def _missing_items(store: Store, benchmark: Benchmark, rows: Sequence[Imported], data_dir: Path | None) -> list[Item]:
    """The items the rows answer that the store lacks (from the rows, or the benchmark's data);
    an item nobody has is a :class:`DataError`."""
    items = {r.item.id: r.item for r in rows if r.item is not None}
    wanted = {r.item_id for r in rows} - set(items) - set(store.items(benchmark.name))
    if wanted:
        loaded = {i.id: i for i in benchmark.load(data_dir)}
        unknown = sorted(wanted - set(loaded))
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise DataError(
                f"{benchmark.name} has no item(s) {shown} ({len(unknown)} of the imported ones)",
                f"use {benchmark.name}'s own item ids (the ids `transferlab eval` stores)",
            )
        items.update((i, loaded[i]) for i in wanted)
    return list(items.values())


def import_completions(
    store: Store,
    rows: Sequence[Imported],
    benchmarks: dict[str, Benchmark],
    *,
    source: str,
    path: Path,
    digest: str,
    revision: str | None = None,
    data_dir: Path | None = None,
    argv: Sequence[str] | None = None,
) -> ImportSummary:
    """Write imported completions into the store; returns how many were new.

    ``benchmarks``: the benchmark each row's ``benchmark`` names (registered, or one of your own);
    ``digest``: the file's SHA-256. Every row is checked before anything is written.
    """
    by_bench: dict[str, list[Imported]] = defaultdict(list)
    for r in rows:
        if r.benchmark not in benchmarks:
            raise DataError(f"{path}: unknown benchmark {r.benchmark!r}", "name a registered benchmark or pass your benchmark's YAML with --benchmarks")
        by_bench[r.benchmark].append(r)
    for name in by_bench:
        if is_loglikelihood(benchmarks[name]):
            raise DataError(f"{name} is scored by log-likelihood; imports hold generated text only", f"import a generated variant of {name} instead")
    models = {r.model: ModelInfo(r.model, revision or IMPORT_REVISION, info={"imported_from": source}) for r in rows}
    run_ids = {m.key: f"import-{digest[:12]}-{sha(m.key, 8)}" for m in models.values()}
    records, seen = [], set()
    next_index: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for r in rows:
        model_key, gen_key, prompt_hash = models[r.model].key, imported_gen_key(source, r.settings), sha(r.prompt, 32)  # as Store.add_prompts
        slot = (model_key, r.benchmark, r.item_id, gen_key)
        index = r.sample_index if r.sample_index is not None else next_index[slot]
        next_index[slot] = max(next_index[slot], index + 1)
        key = completion_key(model_key, r.benchmark, r.item_id, prompt_hash, gen_key, index)
        if key in seen:
            raise DataError(f"{path}: two completions of {r.model} for {r.benchmark} item {r.item_id}, sample {index}", "give each sample its own sample_index")
        seen.add(key)
        records.append(
            CompletionRecord(
                key,
                model_key,
                r.benchmark,
                r.item_id,
                prompt_hash,
                gen_key,
                0,
                index,
                r.response,
                r.finish_reason,
                r.prompt_tokens,
                r.completion_tokens,
                run_ids[model_key],
            )
        )
    items = {name: _missing_items(store, benchmarks[name], bench_rows, data_dir) for name, bench_rows in by_bench.items()}
    # -- checked: now write (definitions, items, models, prompts, settings, runs, then the completions)
    remember_definitions(store, [benchmarks[name] for name in by_bench])
    for name, missing in items.items():
        store.add_items(name, missing)
    for m in models.values():
        store.add_model(m)
    store.add_prompts(r.prompt for r in rows)
    for gen_key, settings_of in {imported_gen_key(source, r.settings): r.settings for r in rows}.items():
        store.add_gen_config(gen_key, {"imported": source, "settings": settings_of})
    settings = {"imported": source, "file": str(path), "sha256": digest}
    for model_key, run_id in sorted(run_ids.items()):
        store.add_run(run_id, model_key, sorted(by_bench), settings, library_versions(), argv)
    added = store.add_completions(records)
    return ImportSummary(f"import-{digest[:12]}", source, digest, len(rows), added, tuple(sorted(run_ids)), tuple(sorted(by_bench)))


def benchmark_names(rows: Iterable[Imported]) -> list[str]:
    """The distinct benchmark names of the rows, in order."""
    return list(dict.fromkeys(r.benchmark for r in rows))
