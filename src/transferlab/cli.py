"""transferlab: evaluate, fine-tune and explain whether math training transfers to other skills.

Each sub-command lives in its own module that exposes ``register(subparsers)``: it adds its parser
and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
Errors a user can fix (:class:`~transferlab.errors.TransferlabError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from transferlab import __version__
from transferlab.errors import TransferlabError

# Modules that register sub-commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "transferlab.commands.eval",
    "transferlab.commands.grade",
    "transferlab.commands.study",
    "transferlab.commands.ti",
    "transferlab.commands.report",
    "transferlab.commands.store",
    "transferlab.commands.drift",
    "transferlab.commands.distill",
    "transferlab.commands.train",
    "transferlab.commands.sandbox",
    "transferlab.commands.world",
    "transferlab.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="transferlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"transferlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TransferlabError as err:
        print(f"transferlab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("transferlab: interrupted; everything completed so far is stored", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
