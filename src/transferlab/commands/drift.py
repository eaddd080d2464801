"""``transferlab drift latent | tokens``: why it transfers, drift between a base and a tuned model.

    transferlab drift latent --base BASE --tuned TUNED --benchmarks math500,gsm8k --n 100 --out drift/
    transferlab drift tokens --base BASE --tuned TUNED --store runs.db --benchmarks math500 --n 100 --out drift/

Both write one JSON per (pair, benchmark) and PNG figures into ``--out`` (see
:mod:`transferlab.analysis`). ``tokens`` takes the tuned model's greedy answers from the store and
generates only the missing ones first.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from transferlab.commands.common import data_dir_arg
from transferlab.errors import ConfigError, DataError, ModelError, StoreError

BACKENDS = ("hf", "vllm")


def pair_name(base: str, tuned: str) -> str:
    """A file-name-safe ``<tuned>-vs-<base>``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{tuned}-vs-{base}")


def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (strict JSON: null = not available)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write strict JSON atomically (temporary file, then rename); NaN becomes null."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(json_ready(data), indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise StoreError(f"could not write {path}: {err.strerror}", "check the disk space and permissions of --out") from err
    return path


def out_dir(value: str) -> Path:
    """``--out``, created if its parent exists."""
    path = Path(value)
    if not path.parent.exists():
        raise DataError(f"the folder {path.parent} does not exist", "create it or choose another --out")
    path.mkdir(exist_ok=True)
    return path


def hf_backend(model: str, args: argparse.Namespace) -> Any:
    """An :class:`~transferlab.backends.hf.HFBackend` for ``model`` with the command's device settings."""
    from transferlab.backends.hf import HFBackend

    return HFBackend(model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)


def free_memory() -> None:
    """Return freed model memory to the system (and the GPU's cache)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def record(kind: str, base: Any, tuned: Any, bench: str, settings: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The JSON written per (pair, benchmark)."""
    return {"kind": kind, "base": base.model.key, "tuned": tuned.model.key, "pair": pair_name(base.model.name, tuned.model.name),
            "benchmark": bench, "settings": settings, "result": result}


# -- latent ------------------------------------------------------------------------------------
def cmd_latent(args: argparse.Namespace) -> int:
    from transferlab.analysis import figures, latent
    from transferlab.analysis.hidden import PAPER_MAX_TOKENS, benchmark_texts, pooled_hidden_states
    from transferlab.benchmarks import parse_benchmarks

    names = [b.name for b in parse_benchmarks(args.benchmarks)]
    data_dir, out = data_dir_arg(args.data_dir), out_dir(args.out)
    pooling = "paper" if args.paper else args.pooling
    max_tokens = args.max_tokens if args.max_tokens is not None else (PAPER_MAX_TOKENS if args.paper else None)
    texts = {name: benchmark_texts(name, data_dir, args.n) for name in names}
    base = hf_backend(args.base, args)
    run = {"pooling": pooling, "max_tokens": max_tokens, "batch_size": args.batch_size}
    base_feats = {n: pooled_hidden_states(base.hf_model, base.tokenizer, t, **run) for n, t in texts.items()}
    tokenizer, base_info = base.tokenizer, base
    base.hf_model = None  # free the base weights before loading the tuned model
    free_memory()
    tuned = hf_backend(args.tuned, args)
    summaries = {}
    for name in names:
        tuned_feats = pooled_hidden_states(tuned.hf_model, tokenizer, texts[name], **run)
        summaries[name] = latent.summarize(latent.layer_shifts(base_feats[name], tuned_feats))
        settings = {"n": len(texts[name]), **run, "texts": "question + reference, raw", "last_layer_after_final_norm": True}
        path = write_json(out / f"latent__{pair_name(base_info.model.name, tuned.model.name)}__{name}.json", record("latent", base_info, tuned, name, settings, summaries[name]))
        print(f"{name}: paper distance {summaries[name]['paper_distance']:.4g}, mean 1-CKA {summaries[name]['mean_cka_drift']:.4g} -> {path}", file=sys.stderr)
    pair = pair_name(base_info.model.name, tuned.model.name)
    title = f"{tuned.model.name} vs {base_info.model.name}"
    figures.plot_layer_shifts(summaries, out / f"latent__{pair}__layers.png", title=title)
    figures.plot_pca_scatter(summaries, out / f"latent__{pair}__scatter.png", title=title)
    return 0


# -- tokens ------------------------------------------------------------------------------------
def greedy_config(args: argparse.Namespace) -> Any:
    """The tuned model's greedy generation settings."""
    from transferlab.spec import GenerationConfig

    return GenerationConfig(temperature=0.0, max_new_tokens=args.max_new_tokens, chat_template=not args.no_chat_template,
                            enable_thinking=args.enable_thinking, system_prompt=args.system_prompt, prompt_style=args.prompt_style)


def stored_answers(store: Any, backend: Any, benchmark: Any, config: Any, data_dir: Path | None, n: int) -> list[Any]:
    """The greedy :class:`~transferlab.analysis.token_scoring.Answer` of the first ``n`` items, found
    by their exact completion keys, with the generated token ids where the store kept them."""
    from transferlab.analysis.token_scoring import Answer
    from transferlab.store import completion_key, sha

    config = replace(config, stop=tuple(dict.fromkeys(config.stop + benchmark.stop(config.prompt_style))))
    stored = {r.key: r for r in store.completions(model_key=backend.model.key, benchmark=benchmark.name)}
    pairs = []
    for item in benchmark.load(data_dir, limit=n):
        prompt = backend.render(benchmark.messages(item, config.prompt_style), config)
        key = completion_key(backend.model.key, benchmark.name, item.id, sha(prompt, 32), config.key(), 0)
        if key not in stored:
            raise StoreError(f"the greedy answer of {benchmark.name} item {item.id} is missing from the store", "run the same command again")
        pairs.append((prompt, key))
    ids = store.token_ids(key for _, key in pairs)
    return [Answer(prompt, stored[key].text, tuple(ids[key]) if key in ids else None) for prompt, key in pairs]


def generate_answers(args: argparse.Namespace, benchmarks: list[Any], config: Any, data_dir: Path | None) -> tuple[Any, dict[str, list[Any]]]:
    """Generate the tuned model's missing greedy answers into the store; returns (backend, answers)."""
    from transferlab.commands.eval import load_backend
    from transferlab.evaluate import run_eval
    from transferlab.store import Store

    ns = argparse.Namespace(backend=args.backend, model=args.tuned, revision=None, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    backend = hf_backend(args.tuned, args) if args.backend == "hf" else load_backend(ns)
    with Store(args.store) as store:
        summary = run_eval(backend, benchmarks, config, store, data_dir=data_dir, limit=args.n, argv=sys.argv, show_progress=False if args.quiet else None)
        print(f"tuned answers: {summary.reused} stored, {summary.generated} generated", file=sys.stderr)
        answers = {b.name: stored_answers(store, backend, b, config, data_dir, args.n) for b in benchmarks}
    return backend, answers


def check_tokenizers(base: Any, tuned: Any) -> None:
    """Base and tuned must share a vocabulary (same ids for the same tokens)."""
    vb, vt = base.tokenizer.get_vocab(), tuned.tokenizer.get_vocab()
    common = set(vb) & set(vt)
    if any(vb[t] != vt[t] for t in common) or len(common) < 0.99 * min(len(vb), len(vt)):
        raise ModelError("base and tuned tokenizers do not share a vocabulary", "compare a tuned model with the checkpoint it was fine-tuned from")


def score_benchmark(args: argparse.Namespace, base: Any, tuned: Any, pairs: list[Any], add_special: bool) -> list[Any]:
    """Per-token summaries of one benchmark's answers on the Hugging Face backend."""
    from transferlab.analysis import token_scoring as ts

    return ts.score_answers(base.hf_model, tuned.hf_model, base.tokenizer, pairs, add_special_tokens=add_special,
                            pad_id=base.pad_id, batch_size=args.score_batch_size, max_positions=args.max_positions)


def vllm_scores(args: argparse.Namespace, tuned: Any, answers: dict[str, list[Any]], add_special: bool) -> tuple[Any, dict[str, list[Any]]]:
    """(base backend, per-token summaries per benchmark) on vLLM: the tuned model's engine, which
    generated the answers, scores all of them and is shut down before the base model's engine starts."""
    from transferlab.analysis import token_scoring as ts
    from transferlab.backends.vllm import VLLMBackend

    check_tokenizers(vllm_side(args.base), tuned)
    rows = [ts.answer_row(tuned.tokenizer, a, add_special_tokens=add_special) for pairs in answers.values() for a in pairs]
    tuned_pass = ts.vllm_token_pass(tuned, rows)
    tuned.close()
    base = VLLMBackend(args.base, dtype=args.dtype)
    base_pass = ts.vllm_token_pass(base, rows)
    base.close()
    summaries = iter(ts.combine_passes(rows, base_pass, tuned_pass))
    return base, {name: [next(summaries) for _ in pairs] for name, pairs in answers.items()}


def vllm_side(model: str) -> Any:
    """What the vLLM path needs of a model here: its identity and its tokenizer (no weights)."""
    from transferlab.backends.hf import resolve_model
    from transferlab.models import load_tokenizer
    from transferlab.store import ModelInfo

    name, folder = resolve_model(model)
    return SimpleNamespace(model=ModelInfo(name=name), tokenizer=load_tokenizer(str(folder) if folder else model))


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


def cmd_tokens(args: argparse.Namespace) -> int:
    from transferlab.analysis import figures, tokens
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.evaluate import is_loglikelihood

    data_dir, out = data_dir_arg(args.data_dir), out_dir(args.out)
    benchmarks = parse_benchmarks(args.benchmarks)
    skipped = [b.name for b in benchmarks if is_loglikelihood(b)]
    benchmarks = [b for b in benchmarks if not is_loglikelihood(b)]
    if skipped:
        print(f"skipped {', '.join(skipped)}: log-likelihood benchmarks have no generated answers", file=sys.stderr)
    if not benchmarks:
        raise ConfigError("no generative benchmark to analyse", "name benchmarks whose answers are generated (math500, gsm8k, ...)")
    config = greedy_config(args)
    tuned, answers = generate_answers(args, benchmarks, config, data_dir)
    if args.backend == "hf":
        base = hf_backend(args.base, args)
        check_tokenizers(base, tuned)
    else:
        base, scored = vllm_scores(args, tuned, answers, add_special=not config.chat_template)
    pair = pair_name(base.model.name, tuned.model.name)
    settings = {"n": args.n, "backend": args.backend, "generation": config.to_dict(), "top_k": args.top_k}
    summaries = {}
    for bench in benchmarks:
        # Answers scored as the ids the model generated; the others were re-tokenized from their text.
        exact = sum(a.token_ids is not None for a in answers[bench.name])
        per_sample = scored[bench.name] if args.backend == "vllm" else score_benchmark(args, base, tuned, answers[bench.name], add_special=not config.chat_template)
        summaries[bench.name] = tokens.summarize(per_sample, top_k=args.top_k, decode=lambda i: token_text(base.tokenizer, i))
        write_json(out / f"tokens__{pair}__{bench.name}.json", record("tokens", base, tuned, bench.name, {**settings, "answers_with_generated_ids": exact}, summaries[bench.name]))
        s = summaries[bench.name]
        print(f"{bench.name}: shifted {100 * s['urial_shares']['shifted']:.1f}%, sampled KL {s['sampled_kl']:.4g}, exact KL {s['exact_kl']:.4g}, rank shift {s['rank_shift']:.3g}", file=sys.stderr)
    (out / f"tokens__{pair}__top_shifted.md").write_text(top_table(summaries), encoding="utf-8")
    title = f"{tuned.model.name} vs {base.model.name}"
    figures.plot_token_shares(summaries, out / f"tokens__{pair}__shares.png", title=title)
    figures.plot_token_kl(summaries, out / f"tokens__{pair}__kl.png", title=title)
    figures.plot_position_curves(summaries, out / f"tokens__{pair}__positions.png", title=title)
    return 0


def _on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return value == "on"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", required=True, help="the checkpoint the tuned model was fine-tuned from (folder, .gguf or hub id)")
    p.add_argument("--tuned", required=True, help="the fine-tuned model")
    p.add_argument("--benchmarks", required=True, help="comma-separated names, e.g. math500,gsm8k")
    p.add_argument("--n", type=int, default=100, help="the first N items of each benchmark")
    p.add_argument("--out", required=True, help="folder for the JSON files and figures (created)")
    p.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--batch-size", type=int, default=8)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("drift", help="latent-space and token-space drift between a base and a tuned model")
    sub = p.add_subparsers(dest="drift_command", metavar="latent|tokens", required=True)

    q = sub.add_parser("latent", help="per-layer PCA shift and linear CKA of pooled hidden states")
    _common(q)
    q.add_argument("--pooling", default="masked", choices=("masked", "paper"), help="masked: real tokens only; paper: unmasked mean over left padding, one batch")
    q.add_argument("--max-tokens", type=int, default=None, help="cut texts to their first N tokens (default: whole texts; 128 with --paper)")
    q.add_argument("--paper", action="store_true", help="the paper's settings: unmasked pooling, 128-token truncation")
    q.set_defaults(func=cmd_latent)

    q = sub.add_parser("tokens", help="ranks, URIAL shares and KL of the tuned model's greedy answers under both models")
    _common(q)
    q.add_argument("--store", required=True, help="the store holding (or receiving) the tuned model's greedy answers")
    q.add_argument("--backend", default="hf", choices=BACKENDS, help="vllm: generation and prompt log-probabilities on vLLM (no exact KL)")
    q.add_argument("--max-new-tokens", type=int, default=2048)
    q.add_argument("--max-positions", type=int, default=4096, help="rows x answer tokens of logits held per batch (memory bound)")
    q.add_argument("--score-batch-size", type=int, default=None, help="samples per scoring forward pass (default: 1 on CPU, where padding costs more than batching saves; 8 on GPU)")
    q.add_argument("--no-chat-template", action="store_true")
    q.add_argument("--enable-thinking", type=_on_off, default=None, metavar="on|off")
    q.add_argument("--system-prompt", default=None)
    q.add_argument("--prompt-style", default="default")
    q.add_argument("--top-k", type=int, default=30, help="how many most-shifted tokens to list")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_tokens)
