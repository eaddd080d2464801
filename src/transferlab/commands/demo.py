"""``transferlab demo``: the whole study in the mini-world (see :mod:`transferlab.demo`).

transferlab demo --out runs/demo            # about 5 minutes on 2 CPU cores
transferlab demo --out runs/demo-quick --quick   # every phase on a small budget
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_demo(args: argparse.Namespace) -> int:
    from transferlab.demo import run_demo

    result = run_demo(args.out, quick=args.quick, seed=args.seed, show_progress=False if args.quiet else None, base=args.base)
    seconds = result["seconds"]
    print(f"demo done in {seconds['total']:.0f} s: report {result['out']}/report/index.html, TI {result['out']}/ti.json", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser("demo", help="the whole study in the mini-world: data, SFT, GRPO, evaluation, TI, drift, report")
    p.add_argument("--out", default="runs/demo", help="output folder (created); rerun to resume, finished phases are reused")
    p.add_argument("--quick", action="store_true", help="every phase on a small budget (a minute or two)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, training and bootstrap (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--base", default=None, help="a base model folder made by `transferlab world pretrain` (default: the shipped base)")
    p.set_defaults(func=cmd_demo)


def main(argv: list[str] | None = None) -> int:
    """``python -m transferlab.commands.demo ...``: the same as ``transferlab demo``."""
    from transferlab.commands.common import module_main

    return module_main(register, "demo", argv)


if __name__ == "__main__":
    sys.exit(main())
