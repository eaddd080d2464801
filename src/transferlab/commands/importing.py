"""``transferlab import``: completions made by other tools (lm-evaluation-harness, a plain JSONL) into a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.io import resolve_data_dir
from transferlab.store import Store

PLAIN_HELP = (
    "jsonl: one completion a line with model, benchmark, item_id, prompt (or messages), response; optional finish_reason, "
    "prompt_tokens, completion_tokens, sample_index, settings. lm-eval: the samples_<task>_<date>.jsonl that lm_eval --log_samples writes. "
    "auto (default): lm-eval when the file is named samples_*"
)


def cmd_import(args: argparse.Namespace) -> int:
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.pipeline import import_file

    data_dir = resolve_data_dir(args.data_dir)
    own = parse_benchmarks(args.benchmarks) if args.benchmarks else []
    with Store(args.store) as store:
        for name in args.files:
            s = import_file(
                store,
                Path(name),
                fmt=args.format,
                model=args.model,
                benchmark=args.benchmark,
                task=args.task,
                revision=args.revision,
                own=own,
                data_dir=data_dir,
                argv=sys.argv,
            )
            print(
                f"{name}: {s.rows} completions read ({s.source}, sha256 {s.sha256[:12]}), {s.added} new in the store "
                f"for {', '.join(s.models)} on {', '.join(s.benchmarks)}",
                file=sys.stderr,
            )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="put completions made by other tools (lm-eval --log_samples, a plain JSONL) into a store, then score them")
    p.add_argument("files", nargs="+", help="the files to import")
    p.add_argument("--store", required=True, help="the SQLite store file (created if missing)")
    p.add_argument("--format", default="auto", choices=("auto", "jsonl", "lm-eval"), help=PLAIN_HELP)
    p.add_argument("--model", default=None, help="the model's name in the store (required for lm-eval; for jsonl it replaces the file's)")
    p.add_argument("--revision", default=None, help="the model key's tag (default: imported, giving NAME@imported)")
    p.add_argument("--benchmark", default=None, help="lm-eval: our benchmark the task's documents belong to (default: from the task's name)")
    p.add_argument("--benchmarks", default=None, help="benchmarks of your own the file answers: path/to/task.yaml or a folder of them (comma-separated)")
    p.add_argument("--task", default=None, help="lm-eval: the task (default: from the file's name)")
    p.add_argument("--data-dir", default=None, help="where the benchmark's items are read from when the file does not carry them (default: the hub)")
    p.set_defaults(func=cmd_import)


def main(argv: list[str] | None = None) -> int:
    from transferlab.commands.common import module_main

    return module_main(register, "import", argv)


if __name__ == "__main__":
    sys.exit(main())
