"""Shared command-line helpers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from transferlab.errors import DataError, StoreError


def data_dir_arg(value: str | None) -> Path | None:
    """``--data-dir`` (or ``$TRANSFERLAB_DATA_DIR``) as a checked folder; None means the hub."""
    value = value or os.environ.get("TRANSFERLAB_DATA_DIR")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataError(f"--data-dir {path} is not a folder", "point it at a folder laid out like shared/data")
    return path


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON Lines to a temporary file and rename it into place; returns the count."""
    path = Path(path)
    if not path.parent.exists():
        raise DataError(f"the folder {path.parent} does not exist", "create it or choose another --out")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"could not write {path}: {err.strerror}", "check the disk space and permissions") from err
    return count


def module_main(register: Any, command: str, argv: list[str] | None) -> int:
    """``python -m transferlab.commands.X ...``: run one command module as ``transferlab COMMAND ...``."""
    import argparse
    import sys

    from transferlab.errors import TransferlabError

    parser = argparse.ArgumentParser(prog="transferlab")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([command, *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except TransferlabError as err:
        print(f"transferlab: error: {err}", file=sys.stderr)
        return 2
