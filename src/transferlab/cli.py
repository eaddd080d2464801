"""transferlab: evaluate, fine-tune and explain whether math training transfers to other skills.

Each sub-command lives in its own module that exposes ``register(subparsers)``: it adds its parser
and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
Errors a user can fix (:class:`~transferlab.errors.TransferlabError`, and bad options) print one
line and exit 2. Output cut short by its reader (``transferlab results --json | head``) ends the
command quietly, as a closed pipe ends any Unix tool.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from transferlab import __version__
from transferlab.commands.common import Parser, apply_process_options, use_help_formatter
from transferlab.errors import TransferlabError

# Modules that register sub-commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "transferlab.commands.audit",
    "transferlab.commands.benchmarks",
    "transferlab.commands.eval",
    "transferlab.commands.importing",
    "transferlab.commands.grade",
    "transferlab.commands.study",
    "transferlab.commands.ti",
    "transferlab.commands.report",
    "transferlab.commands.view",
    "transferlab.commands.store",
    "transferlab.commands.drift",
    "transferlab.commands.dynamics",
    "transferlab.commands.distill",
    "transferlab.commands.train",
    "transferlab.commands.sandbox",
    "transferlab.commands.world",
    "transferlab.commands.demo",
)


# Every environment variable transferlab reads (tests/test_cli_start.py checks the list against the source).
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("TRANSFERLAB_DATA_DIR", "a folder laid out like shared/data, read instead of the hub (as --data-dir)"),
    ("TRANSFERLAB_CACHE", "where converted models (.gguf -> safetensors) are kept (default ~/.cache/transferlab)"),
    ("TRANSFERLAB_API_KEY", "bearer token for --backend openai (else OPENAI_API_KEY)"),
    ("OPENAI_API_KEY", "bearer token for --backend openai when TRANSFERLAB_API_KEY is unset"),
    ("TRANSFERLAB_PROGRESS_SECONDS", "outside a terminal: seconds between plain progress lines (default 10)"),
    ("TRANSFERLAB_SANDBOX_CGROUP", "the cgroup under which the code sandbox makes one group per run"),
    ("TRANSFERLAB_NLTK_DATA", "NLTK data for the IFEval checkers (default: the shipped punkt tables)"),
    ("TRANSFERLAB_SHARED_DATA", "the shared/data folder of real model outputs for the grader agreement check"),
    ("OMP_NUM_THREADS", "torch's CPU threads when --threads is not given"),
)


def environment_epilog() -> str:
    """The ``transferlab --help`` epilog: the environment variables, one per line."""
    width = max(len(name) for name, _ in ENVIRONMENT)
    return "environment variables:\n" + "\n".join(f"  {name:<{width}}  {text}" for name, text in ENVIRONMENT)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command, each showing its defaults."""
    parser = Parser(prog="transferlab", description=__doc__.splitlines()[0], epilog=environment_epilog())
    parser.add_argument("--version", action="version", version=f"transferlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return use_help_formatter(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        apply_process_options(args)
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except TransferlabError as err:
        print(f"transferlab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("transferlab: interrupted; everything completed so far is stored", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (``| head``): send what is still buffered nowhere, end as SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
