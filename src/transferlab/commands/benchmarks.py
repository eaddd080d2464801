"""``transferlab benchmarks [--json]``: every registered benchmark with its group, mode, items,
source, scorer and prompt styles (from the registry, see :mod:`transferlab.benchmarks.catalog`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from transferlab.commands.common import console
from transferlab.io import resolve_data_dir


def cmd_benchmarks(args: argparse.Namespace) -> int:
    from rich.table import Table

    from transferlab.benchmarks import REGISTRY
    from transferlab.benchmarks.catalog import catalog

    rows = catalog(REGISTRY.values(), resolve_data_dir(args.data_dir))
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    table = Table(title="benchmarks (use the names with --benchmarks or in a study spec)")
    for name in ("name", "group", "mode", "items", "source", "scorer", "prompt styles"):
        table.add_column(name, justify="right" if name == "items" else "left")
    for r in rows:
        table.add_row(r.name, r.group, r.mode, "-" if r.items is None else str(r.items), r.source, r.scorer, ", ".join(r.prompt_styles))
    console().print(table)
    notes: dict[str, list[str]] = {}
    for r in rows:
        if r.items is None:
            notes.setdefault(r.count_note, []).append(r.name)
    for note, names in notes.items():
        console().print(f"items not counted for {', '.join(names)}: {note}", soft_wrap=True)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``benchmarks`` command."""
    p = subparsers.add_parser("benchmarks", help="list every benchmark: group, mode, items, source, scorer, prompt styles")
    p.add_argument("--json", action="store_true", help="one JSON object per benchmark instead of a table")
    p.add_argument("--data-dir", default=None, help="count items from a folder laid out like shared/data (default: $TRANSFERLAB_DATA_DIR; else not counted)")
    p.set_defaults(func=cmd_benchmarks)
