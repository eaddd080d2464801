"""Running the drift analyses for a (base, tuned) pair: one JSON per benchmark, figures, a table.

``transferlab drift latent|tokens`` and the demo both go through :func:`latent_drift` and
:func:`token_drift`; the files they write are what :func:`transferlab.drift.load_drift_results`
reads back for the report.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from transferlab.backends import BackendOptions, load_backend
from transferlab.benchmarks.base import Benchmark
from transferlab.drift import figures, latent, tokens
from transferlab.drift import token_scoring as ts
from transferlab.drift.hidden import benchmark_texts, pooled_hidden_states
from transferlab.drift.token_scoring import Answer
from transferlab.errors import DataError, ModelError, StoreError
from transferlab.io import write_json_atomic, write_jsonl_atomic
from transferlab.models import load_tokenizer, resolve_model
from transferlab.options import BackendKind, Dtype, Pooling
from transferlab.pipeline.generate import effective_config, run_eval
from transferlab.spec import GenerationConfig
from transferlab.store import ModelInfo, Store, completion_key, sha

__all__ = [
    "OnBenchmark",
    "check_tokenizers",
    "free_memory",
    "generate_answers",
    "hf_backend",
    "latent_drift",
    "out_dir",
    "pair_name",
    "record",
    "run_latent",
    "run_tokens",
    "samples_path",
    "stored_answers",
    "token_drift",
    "token_text",
    "top_table",
    "vllm_scores",
    "vllm_side",
    "write_token_samples",
]

OnBenchmark = Callable[[str, dict[str, Any], Path], None]
"""Called after each benchmark with its name, its summary and the JSON file written."""

_LATENT_TEXTS = {"texts": "question + reference, raw", "last_layer_after_final_norm": True}


def pair_name(base: str, tuned: str) -> str:
    """A file-name-safe ``<tuned>-vs-<base>``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{tuned}-vs-{base}")


def out_dir(value: str | Path) -> Path:
    """An output folder, created if its parent exists."""
    path = Path(value)
    if not path.parent.exists():
        raise DataError(f"the folder {path.parent} does not exist", "create it or choose another --out")
    path.mkdir(exist_ok=True)
    return path


def hf_backend(model: str | Path, *, device: str | None, dtype: Any, batch_size: int) -> Any:
    """An :class:`~transferlab.backends.hf.HFBackend` for ``model`` (hidden states and logits need the weights here)."""
    return load_backend(str(model), BackendOptions(kind="hf", device=device, dtype=dtype, batch_size=batch_size))


def free_memory() -> None:
    """Return freed model memory to the system (and the GPU's cache)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def record(kind: str, base: Any, tuned: Any, bench: str, settings: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The JSON written per (pair, benchmark)."""
    return {
        "kind": kind,
        "base": base.model.key,
        "tuned": tuned.model.key,
        "pair": pair_name(base.model.name, tuned.model.name),
        "benchmark": bench,
        "settings": settings,
        "result": result,
    }


# -- latent ------------------------------------------------------------------------------------
def latent_drift(
    base: Any,
    base_features: Mapping[str, list[np.ndarray]],
    tuned: Any,
    texts: Mapping[str, Sequence[str]],
    out: Path,
    *,
    run: Mapping[str, Any],
    title: str,
    on_benchmark: OnBenchmark | None = None,
) -> dict[str, dict[str, Any]]:
    """Latent drift of ``tuned`` against the base's pooled features per benchmark (``run``: the
    pooling settings both were pooled with): one JSON per benchmark, the layer and scatter figures."""
    pair = pair_name(base.model.name, tuned.model.name)
    summaries = {}
    for name, bench_texts in texts.items():
        features = pooled_hidden_states(tuned.hf_model, base.tokenizer, bench_texts, **run)
        summaries[name] = latent.summarize(latent.layer_shifts(base_features[name], features))
        settings = {"n": len(bench_texts), **run, **_LATENT_TEXTS}
        path = write_json_atomic(out / f"latent__{pair}__{name}.json", record("latent", base, tuned, name, settings, summaries[name]))
        if on_benchmark is not None:
            on_benchmark(name, summaries[name], path)
    figures.plot_layer_shifts(summaries, out / f"latent__{pair}__layers.png", title=title)
    figures.plot_pca_scatter(summaries, out / f"latent__{pair}__scatter.png", title=title)
    return summaries


# -- tokens ------------------------------------------------------------------------------------
def stored_answers(store: Store, backend: Any, benchmark: Benchmark, config: GenerationConfig, data_dir: Path | None, n: int) -> list[Answer]:
    """The greedy :class:`~transferlab.drift.token_scoring.Answer` of the first ``n`` items, found
    by their exact completion keys, with the generated token ids where the store kept them."""
    config = effective_config(benchmark, config)
    stored = {r.key: r for r in store.completions(model_key=backend.model.key, benchmark=benchmark.name)}
    pairs = []
    for item in benchmark.load(data_dir, limit=n):
        prompt = backend.render(benchmark.messages(item, config.prompt_style), config)
        key = completion_key(backend.model.key, benchmark.name, item.id, sha(prompt, 32), config.key(), 0)
        if key not in stored:
            raise StoreError(f"the greedy answer of {benchmark.name} item {item.id} is missing from the store", "run the same command again")
        pairs.append((prompt, key))
    ids = store.token_ids(key for _, key in pairs)
    return [Answer(prompt, stored[key].text, tuple(ids[key]) if key in ids else None, key, stored[key].item_id) for prompt, key in pairs]


def imported_answers(store: Store, backend: Any, model_key: str, benchmarks: Sequence[Benchmark], config: GenerationConfig, n: int) -> dict[str, list[Answer]]:
    """The first sample of the first ``n`` items (by id) that ``model_key`` has stored for each
    benchmark, under whatever settings (completions made elsewhere: ``transferlab import``). A
    prompt stored as a chat (JSON messages) is rendered with the tuned model's template; text
    prompts (lm-eval's contexts) are used as they are; answers are re-tokenized from their text."""
    found: dict[str, list[Answer]] = {}
    for b in benchmarks:
        first = sorted((r for r in store.completions(model_key=model_key, benchmark=b.name) if r.sample_index == 0), key=lambda r: r.item_id)[:n]
        if not first:
            raise StoreError(f"{model_key} has no completions of {b.name} in the store", "import them first (transferlab import) or drop --answers-from")
        answers = []
        for r in first:
            prompt = store.prompt_text(r.prompt_hash) or ""
            try:
                chat = json.loads(prompt)
            except json.JSONDecodeError:
                chat = None
            if isinstance(chat, list) and chat and all(isinstance(m, dict) and "role" in m for m in chat):
                prompt = backend.render(chat, config)
            answers.append(Answer(prompt, r.text))
        found[b.name] = answers
    return found


def generate_answers(
    backend: Any,
    benchmarks: Sequence[Benchmark],
    config: GenerationConfig,
    store_path: Path,
    data_dir: Path | None,
    n: int,
    *,
    show_progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, list[Answer]]:
    """Generate the tuned model's missing greedy answers into the store; returns them by benchmark."""
    with Store(store_path) as store:
        summary = run_eval(backend, benchmarks, config, store, data_dir=data_dir, limit=n, argv=sys.argv, show_progress=show_progress)
        if log is not None:
            log(f"tuned answers: {summary.reused} stored, {summary.generated} generated")
        return {b.name: stored_answers(store, backend, b, config, data_dir, n) for b in benchmarks}


def check_tokenizers(base: Any, tuned: Any) -> None:
    """Base and tuned must share a vocabulary (same ids for the same tokens)."""
    vb, vt = base.tokenizer.get_vocab(), tuned.tokenizer.get_vocab()
    common = set(vb) & set(vt)
    if any(vb[t] != vt[t] for t in common) or len(common) < 0.99 * min(len(vb), len(vt)):
        raise ModelError("base and tuned tokenizers do not share a vocabulary", "compare a tuned model with the checkpoint it was fine-tuned from")


def vllm_side(model: str) -> Any:
    """What the vLLM path needs of a model here: its identity and its tokenizer (no weights)."""
    name, folder = resolve_model(model)
    return SimpleNamespace(model=ModelInfo(name=name), tokenizer=load_tokenizer(str(folder) if folder else model))


def vllm_scores(
    base_model: str, tuned: Any, answers: Mapping[str, Sequence[Answer]], *, add_special: bool, dtype: Dtype
) -> tuple[Any, dict[Answer, tokens.TokenSummary]]:
    """(the base model's vLLM backend, shut down; per-token summary of every answer) from vLLM prompt
    log-probabilities (no exact KL). The tuned model's engine, which generated the answers, scores
    all of them and is shut down before the base model's engine starts: one engine in memory at a time."""
    from transferlab.backends.vllm import VLLMBackend

    check_tokenizers(vllm_side(base_model), tuned)
    every = list(dict.fromkeys(a for bench_answers in answers.values() for a in bench_answers))
    rows = [ts.answer_row(tuned.tokenizer, a, add_special_tokens=add_special) for a in every]
    tuned_pass = ts.vllm_token_pass(tuned, rows)
    tuned.close()
    base = VLLMBackend(base_model, dtype=dtype)
    try:
        base_pass = ts.vllm_token_pass(base, rows)
    finally:
        base.close()
    return base, dict(zip(every, ts.combine_passes(rows, base_pass, tuned_pass)))


def hf_scorer(base: Any, tuned: Any, *, batch_size: int | None, max_positions: int) -> Callable[[Sequence[Answer], bool], list[tokens.TokenSummary]]:
    """Per-token summaries from both models' logits here, in batched forward passes."""

    def score(answers: Sequence[Answer], add_special: bool) -> list[tokens.TokenSummary]:
        return ts.score_answers(
            base.hf_model,
            tuned.hf_model,
            base.tokenizer,
            answers,
            add_special_tokens=add_special,
            pad_id=base.pad_id,
            batch_size=batch_size,
            max_positions=max_positions,
        )

    return score


def token_text(tokenizer: Any, token_id: int) -> str:
    """A token as text; a partial UTF-8 byte (decoded as U+FFFD) shows as its vocabulary entry."""
    text = tokenizer.decode([token_id])
    return text if "\ufffd" not in text else str(tokenizer.convert_ids_to_tokens(token_id))


def top_table(summaries: dict[str, dict[str, Any]]) -> str:
    """A markdown table of the most often shifted tokens per benchmark."""
    lines = ["| benchmark | rank | token | shifted | occurrences | shifted share |", "|---|---|---|---|---|---|"]
    for bench, s in summaries.items():
        for i, row in enumerate(s["top_shifted_tokens"], start=1):
            token = repr(row["token"]).replace("|", "\\|")
            lines.append(f"| {bench} | {i} | {token} | {row['shifted']} | {row['occurrences']} | {row['shifted_share']:.2f} |")
    return "\n".join(lines) + "\n"


def samples_path(out: Path, pair: str, benchmark: str) -> Path:
    """Where the per-token rows of one (pair, benchmark) go: beside its summary JSON."""
    return out / f"tokens__{pair}__{benchmark}.samples.jsonl"


def write_token_samples(
    path: Path, answers: Sequence[Answer], per_sample: Sequence[tokens.TokenSummary], tokenizer: Any, *, benchmark: str, base_key: str, tuned_key: str
) -> Path:
    """One JSON line per answer: its completion key and item, and per answer token the text piece
    and its rank (1 = argmax) under each model, for the viewer's colouring (written atomically)."""

    def rows() -> Any:
        for answer, summary in zip(answers, per_sample, strict=True):
            ids = [int(i) for i in summary.token_ids]
            yield {
                "key": answer.key,
                "item_id": answer.item_id,
                "benchmark": benchmark,
                "base": base_key,
                "tuned": tuned_key,
                "tokens": tokenizer.batch_decode([[i] for i in ids]) if ids else [],
                "rank_base": [int(r) for r in summary.rank_base],
                "rank_tuned": [int(r) for r in summary.rank_tuned],
            }

    write_jsonl_atomic(path, rows())
    return path


def token_drift(
    base: Any,
    tuned: Any,
    answers: Mapping[str, Sequence[Answer]],
    out: Path,
    *,
    score: Callable[[Sequence[Answer], bool], list[tokens.TokenSummary]],
    add_special: Callable[[str], bool],
    settings: Callable[[str], dict[str, Any]],
    top_k: int,
    title: str,
    on_benchmark: OnBenchmark | None = None,
) -> dict[str, dict[str, Any]]:
    """Token drift of ``tuned``'s answers under both models, per benchmark: one JSON each (with
    ``settings(benchmark)``) and its per-token rows for the viewer (:func:`samples_path`), the
    most-shifted-tokens table and three figures."""
    pair = pair_name(base.model.name, tuned.model.name)
    summaries = {}
    for name, bench_answers in answers.items():
        per_sample = score(bench_answers, add_special(name))
        summaries[name] = tokens.summarize(per_sample, top_k=top_k, decode=lambda i: token_text(base.tokenizer, i))
        path = write_json_atomic(out / f"tokens__{pair}__{name}.json", record("tokens", base, tuned, name, settings(name), summaries[name]))
        write_token_samples(
            samples_path(out, pair, name), bench_answers, per_sample, base.tokenizer, benchmark=name, base_key=base.model.key, tuned_key=tuned.model.key
        )
        if on_benchmark is not None:
            on_benchmark(name, summaries[name], path)
    (out / f"tokens__{pair}__top_shifted.md").write_text(top_table(summaries), encoding="utf-8")
    figures.plot_token_shares(summaries, out / f"tokens__{pair}__shares.png", title=title)
    figures.plot_token_kl(summaries, out / f"tokens__{pair}__kl.png", title=title)
    figures.plot_position_curves(summaries, out / f"tokens__{pair}__positions.png", title=title)
    return summaries


# -- the two analyses of one pair, as ``transferlab drift latent|tokens`` runs them ---------------------
def run_latent(
    base_model: str,
    tuned_model: str,
    benchmarks: Sequence[str],
    out: Path,
    *,
    n: int,
    data_dir: Path | None = None,
    pooling: Pooling = "masked",
    max_tokens: int | None = None,
    device: str | None = None,
    dtype: Dtype = "auto",
    batch_size: int = 8,
    on_benchmark: OnBenchmark | None = None,
) -> dict[str, dict[str, Any]]:
    """Latent drift of ``tuned_model`` against ``base_model`` on the first ``n`` items of each benchmark.

    The base's pooled features are computed first and its weights freed before the tuned model loads.
    """
    texts = {name: benchmark_texts(name, data_dir, n) for name in benchmarks}
    base = hf_backend(base_model, device=device, dtype=dtype, batch_size=batch_size)
    run: dict[str, Any] = {"pooling": pooling, "max_tokens": max_tokens, "batch_size": batch_size}
    base_features = {name: pooled_hidden_states(base.hf_model, base.tokenizer, t, **run) for name, t in texts.items()}
    base.hf_model = None  # free the base weights before loading the tuned model
    free_memory()
    tuned = hf_backend(tuned_model, device=device, dtype=dtype, batch_size=batch_size)
    title = f"{tuned.model.name} vs {base.model.name}"
    return latent_drift(base, base_features, tuned, texts, out, run=run, title=title, on_benchmark=on_benchmark)


def run_tokens(
    base_model: str,
    tuned_model: str,
    benchmarks: Sequence[Benchmark],
    config: GenerationConfig,
    store_path: Path,
    out: Path,
    *,
    n: int,
    data_dir: Path | None = None,
    backend: BackendKind = "hf",
    device: str | None = None,
    dtype: Dtype = "auto",
    batch_size: int = 8,
    score_batch_size: int | None = None,
    max_positions: int = 4096,
    top_k: int = 30,
    show_progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    on_benchmark: OnBenchmark | None = None,
    answers_from: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Token drift: the tuned model's greedy answers (from the store, the missing ones generated
    first; or, with ``answers_from``, the completions that model key holds, e.g. imported ones)
    scored under both models, on ``backend`` (``hf``, or ``vllm``: no exact KL)."""
    options = BackendOptions(kind=backend, device=device, dtype=dtype, batch_size=batch_size)
    tuned = load_backend(tuned_model, options)
    if answers_from is not None:
        with Store(store_path, readonly=True) as store:
            answers = imported_answers(store, tuned, answers_from, benchmarks, config, n)
    else:
        answers = generate_answers(tuned, benchmarks, config, store_path, data_dir, n, show_progress=show_progress, log=log)
    if backend == "hf":
        base = hf_backend(base_model, device=device, dtype=dtype, batch_size=batch_size)
        check_tokenizers(base, tuned)
        score = hf_scorer(base, tuned, batch_size=score_batch_size, max_positions=max_positions)
    else:
        base, scored = vllm_scores(base_model, tuned, answers, add_special=not config.chat_template, dtype=dtype)
        score = lambda bench_answers, _: [scored[a] for a in bench_answers]  # noqa: E731 - scored above, one engine at a time
    settings = {"n": n, "backend": backend, "generation": config.to_dict(), "top_k": top_k}

    def settings_for(name: str) -> dict[str, Any]:
        # Answers scored as the ids the model generated; the others were re-tokenized from their text.
        return {**settings, "answers_with_generated_ids": sum(a.token_ids is not None for a in answers[name])}

    title = f"{tuned.model.name} vs {base.model.name}"
    return token_drift(
        base,
        tuned,
        answers,
        out,
        score=score,
        add_special=lambda _: not config.chat_template,
        settings=settings_for,
        top_k=top_k,
        title=title,
        on_benchmark=on_benchmark,
    )
