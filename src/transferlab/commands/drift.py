"""``transferlab drift latent | tokens``: why it transfers, drift between a base and a tuned model.

    transferlab drift latent --base BASE --tuned TUNED --benchmarks math500,gsm8k --n 100 --out drift/
    transferlab drift tokens --base BASE --tuned TUNED --store runs.db --benchmarks math500 --n 100 --out drift/

Both write one JSON per (pair, benchmark) and PNG figures into ``--out`` (see
:mod:`transferlab.drift`). ``tokens`` takes the tuned model's greedy answers from the store and
generates only the missing ones first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.commands.common import on_off, positive_int
from transferlab.errors import ConfigError
from transferlab.io import resolve_data_dir
from transferlab.options import DTYPES, POOLINGS

BACKENDS = ("hf", "vllm")


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def cmd_latent(args: argparse.Namespace) -> int:
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.drift.hidden import PAPER_MAX_TOKENS
    from transferlab.drift.run import out_dir, run_latent

    def show(name: str, summary: dict[str, Any], path: Path) -> None:
        _log(f"{name}: paper distance {summary['paper_distance']:.4g}, mean 1-CKA {summary['mean_cka_drift']:.4g} -> {path}")

    names = [b.name for b in parse_benchmarks(args.benchmarks)]
    data_dir, out = resolve_data_dir(args.data_dir), out_dir(args.out)
    max_tokens = args.max_tokens if args.max_tokens is not None else (PAPER_MAX_TOKENS if args.paper else None)
    run_latent(
        args.base,
        args.tuned,
        names,
        out,
        n=args.n,
        data_dir=data_dir,
        pooling="paper" if args.paper else args.pooling,
        max_tokens=max_tokens,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        on_benchmark=show,
    )
    return 0


def greedy_config(args: argparse.Namespace) -> Any:
    """The tuned model's greedy generation settings."""
    from transferlab.spec import GenerationConfig

    return GenerationConfig(
        temperature=0.0,
        max_new_tokens=args.max_new_tokens,
        chat_template=not args.no_chat_template,
        enable_thinking=args.enable_thinking,
        system_prompt=args.system_prompt,
        prompt_style=args.prompt_style,
    )


def cmd_tokens(args: argparse.Namespace) -> int:
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.drift.run import out_dir, run_tokens
    from transferlab.pipeline.generate import is_loglikelihood

    def show(name: str, s: dict[str, Any], path: Path) -> None:
        _log(
            f"{name}: shifted {100 * s['urial_shares']['shifted']:.1f}%, sampled KL {s['sampled_kl']:.4g}, exact KL {s['exact_kl']:.4g}, rank shift {s['rank_shift']:.3g}"
        )

    data_dir, out = resolve_data_dir(args.data_dir), out_dir(args.out)
    benchmarks = parse_benchmarks(args.benchmarks)
    skipped = [b.name for b in benchmarks if is_loglikelihood(b)]
    benchmarks = [b for b in benchmarks if not is_loglikelihood(b)]
    if skipped:
        _log(f"skipped {', '.join(skipped)}: log-likelihood benchmarks have no generated answers")
    if not benchmarks:
        raise ConfigError("no generative benchmark to analyse", "name benchmarks whose answers are generated (math500, gsm8k, ...)")
    run_tokens(
        args.base,
        args.tuned,
        benchmarks,
        greedy_config(args),
        Path(args.store),
        out,
        n=args.n,
        data_dir=data_dir,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        score_batch_size=args.score_batch_size,
        max_positions=args.max_positions,
        top_k=args.top_k,
        show_progress=False if args.quiet else None,
        log=_log,
        on_benchmark=show,
    )
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", required=True, help="the checkpoint the tuned model was fine-tuned from (folder, .gguf or hub id)")
    p.add_argument("--tuned", required=True, help="the fine-tuned model")
    p.add_argument("--benchmarks", required=True, help="comma-separated names, e.g. math500,gsm8k")
    p.add_argument("--n", type=positive_int, default=100, help="the first N items of each benchmark")
    p.add_argument("--out", required=True, help="folder for the JSON files and figures (created)")
    p.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto", choices=DTYPES)
    p.add_argument("--batch-size", type=positive_int, default=8)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("drift", help="latent-space and token-space drift between a base and a tuned model")
    sub = p.add_subparsers(dest="drift_command", metavar="latent|tokens", required=True)

    q = sub.add_parser("latent", help="per-layer PCA shift and linear CKA of pooled hidden states")
    _common(q)
    q.add_argument("--pooling", default="masked", choices=POOLINGS, help="masked: real tokens only; paper: unmasked mean over left padding, one batch")
    q.add_argument("--max-tokens", type=int, default=None, help="cut texts to their first N tokens (default: whole texts; 128 with --paper)")
    q.add_argument("--paper", action="store_true", help="the paper's settings: unmasked pooling, 128-token truncation")
    q.set_defaults(func=cmd_latent)

    q = sub.add_parser("tokens", help="ranks, URIAL shares and KL of the tuned model's greedy answers under both models")
    _common(q)
    q.add_argument("--store", required=True, help="the store holding (or receiving) the tuned model's greedy answers")
    q.add_argument("--backend", default="hf", choices=BACKENDS, help="vllm: generation and prompt log-probabilities on vLLM (no exact KL)")
    q.add_argument("--max-new-tokens", type=int, default=2048)
    q.add_argument("--max-positions", type=int, default=4096, help="rows x answer tokens of logits held per batch (memory bound)")
    q.add_argument(
        "--score-batch-size",
        type=int,
        default=None,
        help="samples per scoring forward pass (default: 1 on CPU, where padding costs more than batching saves; 8 on GPU)",
    )
    q.add_argument("--no-chat-template", action="store_true")
    q.add_argument("--enable-thinking", type=on_off, default=None, metavar="on|off")
    q.add_argument("--system-prompt", default=None)
    q.add_argument("--prompt-style", default="default")
    q.add_argument("--top-k", type=int, default=30, help="how many most-shifted tokens to list")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_tokens)
