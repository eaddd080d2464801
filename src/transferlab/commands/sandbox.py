"""``transferlab sandbox``: run one program exactly the way graded code runs, or say what the
sandbox gives on this machine.

    transferlab sandbox run program.py [--stdin input.txt] [--timeout 6] [--memory-mb 1024]
    transferlab sandbox check [--strict] [--json]

``run`` prints the outcome as JSON (status, exit code, tails of stdout and stderr, time, peak
memory and who counted it) and exits 0 when the status is "ok", 1 otherwise; for anyone debugging a
grader. ``check`` prints one line per protection (user namespaces, seccomp, cgroup memory and
pids, network, writable paths, descriptors), each tested by a probe program run in the sandbox;
it exits 0, or with ``--strict`` 1 when any protection is missing.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from transferlab.commands.common import positive_float, positive_int
from transferlab.errors import DataError
from transferlab.sandbox import SandboxLimits, check, run_python


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command and its ``run`` and ``check`` sub-commands."""
    p = subparsers.add_parser("sandbox", help="run a program in the code-grading sandbox")
    actions = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    defaults = SandboxLimits()
    run = actions.add_parser("run", help="run one Python program and print the outcome as JSON")
    run.add_argument("program", type=Path, help="the Python file to run")
    run.add_argument("--stdin", type=Path, default=None, help="a file to feed on standard input")
    run.add_argument(
        "--timeout",
        type=positive_float,
        default=defaults.timeout_s,
        help=f"wall-clock limit in seconds (default {defaults.timeout_s:g})",
    )
    run.add_argument(
        "--memory-mb",
        type=positive_int,
        default=defaults.memory_mb,
        help=f"memory limit in MB: the whole run as its cgroup counts it, and each process's address space (default {defaults.memory_mb})",
    )
    run.set_defaults(func=run_command)
    probe = actions.add_parser("check", help="print which protections the sandbox has here")
    probe.add_argument("--strict", action="store_true", help="exit 1 when any protection is missing")
    probe.add_argument("--json", action="store_true", help="print the lines as JSON")
    probe.set_defaults(func=check_command)


def run_command(args: argparse.Namespace) -> int:
    """Run ``args.program`` in the sandbox, print the result as JSON; 0 when it ran ok."""
    source = _read(args.program, "program")
    stdin = _read(args.stdin, "stdin file") if args.stdin is not None else ""
    limits = SandboxLimits(timeout_s=args.timeout, memory_mb=args.memory_mb)
    result = run_python(source, stdin=stdin, limits=limits)
    report = result.to_dict()
    del report["stdout"]  # the tail says enough; a grader's full output belongs in a file
    print(json.dumps(report, indent=2))
    return 0 if result.ok else 1


def check_command(args: argparse.Namespace) -> int:
    """Print one line per protection; 0, or 1 under ``--strict`` when one is missing (2, from
    the command line, where no sandbox can start: :func:`check` raises)."""
    lines = check()
    if args.json:
        print(json.dumps([asdict(line) for line in lines], indent=2))
    else:
        for line in lines:
            print(line.render())
    missing = [line.name for line in lines if not line.held]
    if missing and not args.json:
        print(f"missing or weaker than it should be: {', '.join(missing)} (see docs/sandbox.md)")
    return 1 if args.strict and missing else 0


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as err:
        problem = f"cannot read the {what} {str(path)!r}: {err.strerror}"
        raise DataError(problem, "check the path") from err
