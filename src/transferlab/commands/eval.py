"""``transferlab eval | score | results | export``: generate into the store, grade, tabulate, dump."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from transferlab.commands.common import data_dir_arg, write_jsonl_atomic
from transferlab.errors import ConfigError
from transferlab.scoring.math import MATH_GRADERS
from transferlab.spec import GenerationConfig
from transferlab.store import Store

BACKENDS = ("hf", "vllm", "openai")
API_KEY_ENV = ("TRANSFERLAB_API_KEY", "OPENAI_API_KEY")


def console() -> Any:
    """A rich console for tables: the terminal's width, or 200 columns when piped to a file."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=200)


def _on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return value == "on"


def add_generation_args(p: argparse.ArgumentParser) -> None:
    """The sampling and prompt options shared by every command that generates."""
    g = p.add_argument_group("generation")
    g.add_argument("--samples", type=int, default=1, help="completions per prompt (k)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--max-new-tokens", type=int, default=2048)
    g.add_argument("--seed", type=int, default=0, help="reaches every sampler: a rerun reproduces the samples")
    g.add_argument("--stop", action="append", default=[], help="a stop string (repeatable)")
    g.add_argument("--no-chat-template", action="store_true", help="send raw prompts instead of the model's chat template")
    g.add_argument("--enable-thinking", type=_on_off, default=None, metavar="on|off", help="passed to templates that read it (Qwen3)")
    g.add_argument("--system-prompt", default=None)
    g.add_argument("--prompt-style", default="default", help="a benchmark prompt style: default or paper")
    g.add_argument("--thinking-parser", default="auto", choices=("auto", "think", "think-end", "none"))


def generation_config(args: argparse.Namespace) -> GenerationConfig:
    """The :class:`GenerationConfig` named by the command-line options."""
    return GenerationConfig(
        samples=args.samples, temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
        seed=args.seed, stop=tuple(args.stop), chat_template=not args.no_chat_template,
        enable_thinking=args.enable_thinking, system_prompt=args.system_prompt, prompt_style=args.prompt_style,
        thinking_parser=args.thinking_parser,
    )


def load_backend(args: argparse.Namespace) -> Any:
    """The backend named by ``--backend`` for ``--model``.

    Commands without :func:`add_backend_args` (drift, distill) get the defaults of those options.
    """
    opt = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    if args.backend == "hf":
        from transferlab.backends.hf import HFBackend

        return HFBackend(args.model, revision=args.revision, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    if args.backend == "vllm":
        from transferlab.backends.vllm import VLLMBackend

        return VLLMBackend(args.model, revision=args.revision, tensor_parallel=opt("tensor_parallel", 1), data_parallel=opt("data_parallel", 1), dtype=opt("dtype", "auto"), max_model_len=opt("max_model_len"))
    if args.backend == "openai":
        import os

        from transferlab.backends.http_pool import PoolSettings
        from transferlab.backends.openai_http import OpenAIBackend

        if not opt("endpoint"):
            raise ConfigError("--backend openai needs a server", "pass --endpoint http://HOST:PORT/v1 (repeatable)")
        api_key = opt("api_key") or next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)
        settings = PoolSettings(concurrency=opt("concurrency", 8), read_timeout=opt("request_timeout", 3600.0), api_key=api_key)
        return OpenAIBackend(args.model, opt("endpoint"), api=opt("api", "chat"), tokenizer=opt("tokenizer"), revision=opt("revision"), settings=settings)
    raise ConfigError(f"unknown backend {args.backend!r}", f"choose one of {', '.join(BACKENDS)}")


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """The options of the vllm and openai backends."""
    g = p.add_argument_group("vllm backend")
    g.add_argument("--tensor-parallel", type=int, default=1, help="GPUs per vLLM engine")
    g.add_argument("--data-parallel", type=int, default=1, help="vLLM engines, each on its own --tensor-parallel GPUs")
    g.add_argument("--max-model-len", type=int, default=None, help="longest prompt + answer in tokens (default: the model's); sizes vLLM's KV cache")
    g = p.add_argument_group("openai backend (OpenAI-compatible servers: vLLM serve, SGLang, llama.cpp, TGI)")
    g.add_argument("--endpoint", action="append", default=[], help="a server's base URL, e.g. http://127.0.0.1:8000/v1 (repeatable: replicas share the work)")
    g.add_argument("--api", default="chat", choices=("chat", "completions"), help="chat: the server applies the chat template; completions: rendered here with --tokenizer")
    g.add_argument("--api-key", default=None, help=f"bearer token (default: ${API_KEY_ENV[0]} or ${API_KEY_ENV[1]})")
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight per endpoint")
    g.add_argument("--request-timeout", type=float, default=3600.0, help="seconds to wait for one answer (long reasoning)")
    g.add_argument("--tokenizer", default=None, help="the served model's tokenizer folder or hub id (needed by --api completions)")


def cmd_eval(args: argparse.Namespace) -> int:
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.evaluate import run_eval
    from transferlab.results import render_table, results
    from transferlab.scoring.pipeline import score_store

    benchmarks = parse_benchmarks(args.benchmarks)
    config = generation_config(args)
    data_dir = data_dir_arg(args.data_dir)
    with Store(args.store) as store:
        backend = load_backend(args)
        summary = run_eval(backend, benchmarks, config, store, data_dir=data_dir, limit=args.limit, argv=sys.argv, show_progress=None if not args.quiet else False)
        print(f"run {summary.run_id}: {summary.requested} completions asked, {summary.reused} already stored, {summary.generated} generated", file=sys.stderr)
        if not args.no_score:
            score_store(store, model_key=summary.model_key, benchmarks=[b.name for b in benchmarks], thinking_parser=config.thinking_parser, only_unscored=True, show_progress=None if not args.quiet else False)
            console().print(render_table([r for r in results(store) if r.model == summary.model_key]))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from transferlab.scoring.pipeline import score_store

    benchmarks = [b.strip() for b in args.benchmarks.split(",")] if args.benchmarks else None
    with Store(args.store) as store:
        n = score_store(store, model_key=args.model_key, benchmarks=benchmarks, thinking_parser=args.thinking_parser, only_unscored=args.only_unscored, paper_scoring=args.paper_scoring, math_grader=args.math_grader)
    print(f"scored {n} completions", file=sys.stderr)
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from transferlab.results import render_table, results

    with Store(args.store, readonly=True) as store:
        rows = results(store, paper_scoring=args.paper_scoring, math_grader=args.math_grader)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        console().print(render_table(rows))
    return 0


MATH_GRADER_HELP = ("math benchmarks: transferlab (default) or qwen25-math, the Qwen2.5-Math evaluation harness's "
                    "verdicts, its known errors included (stored under the scorer name math_qwen25; to compare with numbers that harness made)")

EXPORT_FIELDS = ("model_key", "benchmark", "item_id", "sample_index", "seed", "gen_key", "prompt", "text", "thinking", "answer", "thinking_status", "finish_reason", "prompt_tokens", "completion_tokens", "scorer", "score", "extracted", "score_status")


def cmd_export(args: argparse.Namespace) -> int:
    from transferlab.results import scored_cells

    with Store(args.store, readonly=True) as store:
        if args.all_scorers:
            source = store.rows()
        else:
            source = (row for _, cell in scored_cells(store, paper_scoring=args.paper_scoring, math_grader=args.math_grader) for row in cell)
        rows = ({("model" if k == "model_key" else k): row.get(k) for k in EXPORT_FIELDS} for row in source)
        n = write_jsonl_atomic(Path(args.out), rows)
    print(f"wrote {n} completions to {args.out}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="generate completions for benchmarks into a store, then score them")
    p.add_argument("--model", required=True, help="a local folder, a .gguf file or a hub id (openai: the served model's name)")
    p.add_argument("--backend", default="hf", choices=BACKENDS)
    p.add_argument("--revision", default=None, help="hub revision (recorded in the store key)")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--batch-size", type=int, default=16, help="rows (prompt x sample) decoded together")
    p.add_argument("--benchmarks", required=True, help="comma-separated names, e.g. math500,aime24,gsm8k")
    p.add_argument("--store", required=True, help="the SQLite store file (created if missing)")
    p.add_argument("--limit", type=int, default=None, help="only the first N items of each benchmark")
    p.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data instead of the hub")
    p.add_argument("--no-score", action="store_true", help="generate only")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_generation_args(p)
    add_backend_args(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("score", help="(re-)score stored completions without generating")
    p.add_argument("--store", required=True)
    p.add_argument("--model-key", default=None, help="only this model (name@revision)")
    p.add_argument("--benchmarks", default=None)
    p.add_argument("--thinking-parser", default="auto", choices=("auto", "think", "think-end", "none"))
    p.add_argument("--only-unscored", action="store_true")
    p.add_argument("--paper-scoring", action="store_true", help="the study's own scorers where they differ (GPQA: last A-D anywhere; HaluEval: first line only; CoQA: leave-one-out over the references), stored under their own scorer names; with --thinking-parser none, reasoning is graded as the paper did")
    p.add_argument("--math-grader", default="transferlab", choices=MATH_GRADERS, help=MATH_GRADER_HELP)
    p.set_defaults(func=cmd_score)

    p = subparsers.add_parser("results", help="a table: model x benchmark accuracy with 95%% CIs")
    p.add_argument("--store", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--paper-scoring", action="store_true", help="count the verdicts of the study's own scorers (stored by score --paper-scoring)")
    p.add_argument("--math-grader", default="transferlab", choices=MATH_GRADERS, help="count the math verdicts of this grader (stored by score --math-grader)")
    p.set_defaults(func=cmd_results)

    p = subparsers.add_parser("export", help="one JSON line per completion (text, thinking, answer, score...)")
    p.add_argument("--store", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--paper-scoring", action="store_true", help="the verdicts of the study's own scorers (as results --paper-scoring)")
    p.add_argument("--math-grader", default="transferlab", choices=MATH_GRADERS, help="the math verdicts of this grader (as results --math-grader)")
    p.add_argument("--all-scorers", action="store_true", help="one line per completion and scorer, every stored verdict")
    p.set_defaults(func=cmd_export)
