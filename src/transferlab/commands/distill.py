"""``transferlab distill``: sample a teacher on math prompts, keep only correct traces (SFT JSONL)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.commands.common import add_backend_args, add_generation_args, add_model_args, backend_from_args, generation_config, on_off, positive_int
from transferlab.io import resolve_data_dir
from transferlab.store import Store


def cmd_distill(args: argparse.Namespace) -> int:
    from transferlab.train.data import load_prompts
    from transferlab.train.distill import distill

    if args.thinking is not None:
        args.enable_thinking = args.thinking
    config = generation_config(args)
    prompts = load_prompts(args.prompts, resolve_data_dir(args.data_dir), args.limit)
    store_path = Path(args.store) if args.store else Path(args.out).with_suffix(".db")
    args.model = args.teacher
    with Store(store_path) as store:
        backend = backend_from_args(args)
        summary = distill(backend, prompts, config, store, Path(args.out), show_progress=False if args.quiet else None)
    print(
        f"{summary.requested} traces asked, {summary.reused} already stored, {summary.generated} generated; "
        f"{summary.accepted} accepted ({100 * summary.acceptance:.1f}%) -> {summary.out} (store: {store_path})",
        file=sys.stderr,
    )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("distill", help="rejection-sampled SFT data: a teacher's correct math traces only")
    p.add_argument("--teacher", required=True, help="the teacher model: a local folder, a .gguf file or a hub id")
    p.add_argument("--prompts", default="math_train", help="math_train, deepscaler, or a .json/.jsonl file of problem/answer rows")
    p.add_argument("--out", required=True, help="the SFT JSON Lines file to write")
    p.add_argument("--store", default=None, help="the SQLite store of all traces (default: OUT with .db); rerun to resume")
    p.add_argument("--thinking", type=on_off, default=None, metavar="on|off", help="the teacher's thinking mode (Qwen3 enable_thinking)")
    p.add_argument("--data-dir", default=None, help="read prompt sets from a folder laid out like shared/data instead of the hub")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N prompts")
    add_model_args(p)
    p.add_argument("--quiet", action="store_true")
    add_generation_args(p)
    add_backend_args(p)
    # Sampling defaults for rejection sampling (Qwen3's recommended thinking-mode settings).
    p.set_defaults(func=cmd_distill, samples=4, temperature=0.6, top_p=0.95, max_new_tokens=16384)
