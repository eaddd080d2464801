"""``transferlab world``: the mini-world's pretraining recipe and a look at its tasks.

    transferlab world pretrain --out DIR [--seed 0] [--steps N] [--minutes M] [--threads 2]
    transferlab world sample --family world_arith [--n 3] [--seed 0] [--split train|test]

``pretrain`` builds the tokenizer and the ~1M-parameter Qwen2 model, trains on all twelve
families (direct answers, loss on the answer only), evaluates greedy on the test split and writes
a Hugging Face folder with ``recipe.json``. ``--minutes`` caps the run: the step count is fixed
from the speed of the first steps and recorded, so ``--steps`` repeats it exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from transferlab.commands.common import positive_float, positive_int
from transferlab.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add the ``world`` sub-command with ``pretrain`` and ``sample``."""
    p = subparsers.add_parser("world", help="the mini-world: pretrain its base model, show its tasks")
    sub = p.add_subparsers(dest="world_command", required=True)
    pre = sub.add_parser("pretrain", help="pretrain the world base model (a recipe with a seed)")
    pre.add_argument("--out", type=Path, required=True, help="folder to write the model to")
    pre.add_argument("--seed", type=int, default=0, help="seed of data, initialisation and tokenizer")
    pre.add_argument("--steps", type=positive_int, default=None, help="optimizer steps (default: the recipe's)")
    pre.add_argument("--minutes", type=positive_float, default=None, help="cap the run at about this many minutes")
    pre.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    pre.add_argument("--trace-share", type=float, default=None, help="share of math items shown with worked steps (default: the recipe's)")
    pre.add_argument("--eval-items", type=positive_int, default=200, help="test items per family for the final greedy check")
    pre.set_defaults(func=run_pretrain)
    sam = sub.add_parser("sample", help="print items of a family: prompt, gold answer, teacher trace")
    sam.add_argument("--family", required=True, help="a world family, e.g. world_arith")
    sam.add_argument("--n", type=positive_int, default=3, help="how many items")
    sam.add_argument("--seed", type=int, default=0, help="seed of the train split")
    sam.add_argument("--split", choices=("train", "test"), default="train", help="which split")
    sam.set_defaults(func=run_sample)


def run_pretrain(args: argparse.Namespace) -> int:
    """Run the recipe with a progress bar and an ETA; print the final accuracies."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from transferlab.world.pretrain import Recipe, pretrain

    recipe = Recipe(seed=args.seed, threads=args.threads, eval_items=args.eval_items)
    if args.steps is not None:
        recipe = dataclasses.replace(recipe, steps=args.steps)
    if args.trace_share is not None:
        if not 0.0 <= args.trace_share <= 1.0:
            raise ConfigError(f"--trace-share {args.trace_share} is not a share", "pass a number from 0 to 1, e.g. --trace-share 0.1")
        recipe = dataclasses.replace(recipe, trace_share=args.trace_share)
    columns = (
        TextColumn("pretrain"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("pretrain", total=recipe.steps, loss=float("nan"))

        def report(step: int, total: int, loss: float, seconds: float) -> None:
            progress.update(task, completed=step, total=total, loss=loss)

        record = pretrain(args.out, recipe, minutes=args.minutes, report=report)
    print(json.dumps({k: record[k] for k in ("wall_seconds", "final_loss", "parameters")} | {"steps": record["recipe"]["steps"]}))
    for name, value in record["greedy_accuracy_test"].items():
        print(f"{name:18s} {100 * value:5.1f}%")
    print(f"wrote {args.out}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """Print items of one family with their prompt, gold answer, direct answer and teacher trace."""
    from transferlab.world.catalog import get_family, test_items, train_items
    from transferlab.world.teacher import teacher_trace

    family = get_family(args.family)
    items = train_items(family.name, args.n, args.seed) if args.split == "train" else test_items(family.name, args.n)
    for item in items:
        print(f"--- {family.name} ({family.group}, mirrors {family.mirrors}) item {item.id}")
        print(item.fields["question"])
        print(f"gold: {item.reference}")
        print(f"direct answer (pretraining target): {item.meta['response']}")
        if family.group == "math":
            print(f"teacher trace: {teacher_trace(item)}")
    return 0
