"""``transferlab sandbox run``: run one program exactly the way graded code runs.

    transferlab sandbox run program.py [--stdin input.txt] [--timeout 6] [--memory-mb 1024]

Prints the outcome as JSON (status, exit code, tails of stdout and stderr, time, peak memory) and
exits 0 when the status is "ok", 1 otherwise; for anyone debugging a grader.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from transferlab.errors import DataError
from transferlab.scoring.sandbox import SandboxLimits, run_python


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command and its ``run`` sub-command."""
    p = subparsers.add_parser("sandbox", help="run a program in the code-grading sandbox")
    actions = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    defaults = SandboxLimits()
    run = actions.add_parser("run", help="run one Python program and print the outcome as JSON")
    run.add_argument("program", type=Path, help="the Python file to run")
    run.add_argument("--stdin", type=Path, default=None, help="a file to feed on standard input")
    run.add_argument(
        "--timeout", type=float, default=defaults.timeout_s,
        help=f"wall-clock limit in seconds (default {defaults.timeout_s:g})",
    )
    run.add_argument(
        "--memory-mb", type=int, default=defaults.memory_mb,
        help=f"address-space limit in MB (default {defaults.memory_mb})",
    )
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run ``args.program`` in the sandbox, print the result as JSON; 0 when it ran ok."""
    source = _read(args.program, "program")
    stdin = _read(args.stdin, "stdin file") if args.stdin is not None else ""
    if args.timeout <= 0 or args.memory_mb <= 0:
        raise DataError("--timeout and --memory-mb must be positive", "pass a positive number")
    limits = SandboxLimits(timeout_s=args.timeout, memory_mb=args.memory_mb)
    result = run_python(source, stdin=stdin, limits=limits)
    report = result.to_dict()
    del report["stdout"]  # the tail says enough; a grader's full output belongs in a file
    print(json.dumps(report, indent=2))
    return 0 if result.ok else 1


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as err:
        problem = f"cannot read the {what} {str(path)!r}: {err.strerror}"
        raise DataError(problem, "check the path") from err
