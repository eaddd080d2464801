"""Files in and out: JSON Lines and JSON read with one-line errors, written atomically, and the data folder.

Every writer goes through a temporary file renamed into place, so a crash never leaves half a file
where a finished one was expected. Every reader names the file and line of a malformed row.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from transferlab.errors import DataError, StoreError

__all__ = ["DATA_DIR_ENV", "resolve_data_dir", "json_ready", "read_json_list", "read_jsonl", "write_json_atomic", "write_jsonl_atomic"]

DATA_DIR_ENV = "TRANSFERLAB_DATA_DIR"


def resolve_data_dir(value: str | None) -> Path | None:
    """``--data-dir`` (or ``$TRANSFERLAB_DATA_DIR``) as a checked folder; None means the hub."""
    value = value or os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataError(f"--data-dir {path} is not a folder", "point it at a folder laid out like shared/data")
    return path


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines file (``.gz`` too); a malformed line is a :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir (it must be laid out like shared/data) or drop it to load from the hub")
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"malformed JSON in {path} at line {number} ({err.msg})", "repair or re-download that file") from err
            if not isinstance(row, dict):
                raise DataError(f"line {number} of {path} is not a JSON object", "repair or re-download that file")
            yield row


def read_json_list(path: Path) -> list[dict[str, Any]]:
    """A file holding one JSON list of objects."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir or drop it to load from the hub")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON in {path} at line {err.lineno} ({err.msg})", "repair or re-download that file") from err
    if not isinstance(rows, list):
        raise DataError(f"{path} does not hold a JSON list", "repair or re-download that file")
    return rows


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


def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (strict JSON: null = not available)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def write_json_atomic(path: Path, data: dict[str, Any]) -> Path:
    """Write strict JSON atomically (temporary file, then rename); NaN becomes null."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(json_ready(data), indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise StoreError(f"could not write {path}: {err.strerror}", "check the disk space and permissions of --out") from err
    return path
