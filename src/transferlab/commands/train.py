"""``transferlab train sft | grpo``: math-only fine-tuning with TRL (see ``transferlab.train``).

The same commands run on one process or under ``accelerate launch`` (configs in
``configs/accelerate``: DDP, FSDP, DeepSpeed ZeRO-3, and a 2-process CPU one)::

    accelerate launch --config_file configs/accelerate/fsdp.yaml -m transferlab.cli train grpo \\
        --base Qwen/Qwen3-14B-Base --prompts math_train --preset paper --out ckpt/grpo
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from transferlab.commands.common import positive_int
from transferlab.io import resolve_data_dir
from transferlab.train.common import TrainResult


def _on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return value == "on"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", required=True, help="the model to fine-tune: a local folder or a hub id")
    p.add_argument("--preset", default="tiny", help="tiny (CPU) or paper (PAPER.md's values, GPUs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one preset value (repeatable)")
    p.add_argument("--max-steps", type=positive_int, default=None, help="shortcut for --set max_steps=N")
    p.add_argument("--out", required=True, help="output folder: a Hugging Face checkpoint when done; rerun to resume")
    p.add_argument("--report-to", action="append", default=[], choices=("tensorboard", "wandb"), help="also log to TensorBoard or W&B")
    p.add_argument("--show-presets", action="store_true", help="print the preset's values with their help, then exit")
    p.add_argument("--quiet", action="store_true", help="no progress display")


def _preset(kind: str, args: argparse.Namespace) -> Any:
    from transferlab.train.presets import get_preset, parse_overrides

    overrides = parse_overrides(args.set)
    if args.max_steps is not None:
        overrides["max_steps"] = str(args.max_steps)
    return get_preset(kind, args.preset, overrides)


def _show(preset: object) -> int:
    from transferlab.train.presets import describe

    for name, value, help_text in describe(preset):
        print(f"{name:28} {value!s:14} {help_text}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    preset = _preset("sft", args)
    if args.show_presets:
        return _show(preset)
    from transferlab.train.sft import train_sft

    result = train_sft(args.base, args.data, preset, args.out, report=args.report_to, show_progress=False if args.quiet else None)
    _done(result)
    return 0


def cmd_grpo(args: argparse.Namespace) -> int:
    preset = _preset("grpo", args)
    if args.show_presets:
        return _show(preset)
    from transferlab.train.data import load_prompts
    from transferlab.train.grpo import train_grpo

    prompts = load_prompts(args.prompts, resolve_data_dir(args.data_dir), args.limit)
    result = train_grpo(
        args.base,
        prompts,
        preset,
        args.out,
        prompt_set=args.prompts,
        enable_thinking=args.thinking,
        report=args.report_to,
        show_progress=False if args.quiet else None,
    )
    _done(result)
    return 0


def _done(result: TrainResult) -> None:
    import os

    from transferlab.train.common import is_main_process

    rank = os.environ.get("RANK", "0")
    print(f"rank {rank} of {result.processes} finished at step {result.global_step}", file=sys.stderr)
    if is_main_process():
        resumed = f" (resumed from {result.resumed_from})" if result.resumed_from else ""
        print(f"trained to step {result.global_step}{resumed}; model in {result.out_dir}, log in {result.log_path}", file=sys.stderr)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="math-only fine-tuning: rejection-sampled SFT or GRPO (TRL)")
    sub = p.add_subparsers(dest="trainer", metavar="TRAINER", required=True)

    s = sub.add_parser("sft", help="supervised fine-tuning on a chat-format JSONL file (transferlab distill writes one)")
    _common(s)
    s.add_argument("--data", required=True, help="SFT JSON Lines: {prompt: [...], completion: [...]} or {messages: [...]}")
    s.set_defaults(func=cmd_sft)

    g = sub.add_parser("grpo", help="GRPO (DAPO recipe) with the evaluation's math scorer as reward")
    _common(g)
    g.add_argument("--prompts", default="math_train", help="math_train, deepscaler, or a .json/.jsonl file of problem/answer rows")
    g.add_argument("--data-dir", default=None, help="read prompt sets from a folder laid out like shared/data instead of the hub")
    g.add_argument("--limit", type=positive_int, default=None, help="only the first N prompts")
    g.add_argument("--thinking", type=_on_off, default=None, metavar="on|off", help="enable_thinking for templates that read it (Qwen3)")
    g.set_defaults(func=cmd_grpo)


def main(argv: list[str] | None = None) -> int:
    """``python -m transferlab.commands.train ...``: the same as ``transferlab train``."""
    from transferlab.commands.common import module_main

    return module_main(register, "train", argv)


if __name__ == "__main__":
    sys.exit(main())
