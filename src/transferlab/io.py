"""Files in and out: JSON Lines and JSON read with one-line errors, written atomically, and the data folder.

Every writer goes through a temporary file renamed into place, so a crash never leaves half a file
where a finished one was expected. Every reader names the file and line of a malformed row, and of
a byte that is not UTF-8: every text file a command reads goes through :func:`read_text` or
:func:`text_lines`.
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

__all__ = [
    "DATA_DIR_ENV",
    "resolve_data_dir",
    "json_lines",
    "json_ready",
    "read_json_list",
    "read_jsonl",
    "read_text",
    "text_lines",
    "write_json_atomic",
    "write_jsonl_atomic",
]

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


def _raw_bytes(path: Path) -> bytes:
    """The bytes of a file, gunzipped for ``.gz``."""
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _not_utf8(path: Path) -> DataError:
    """The error for a file that is not UTF-8 text, naming the first bad byte and its line."""
    raw = _raw_bytes(path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        where = f"byte 0x{raw[err.start]:02x} at line {line}"
    else:  # pragma: no cover - only called after a decoding error
        where = "a byte"
    return DataError(f"{path} is not UTF-8 text ({where})", "save it as UTF-8, e.g. iconv -f ITS_ENCODING -t UTF-8 FILE > NEW_FILE")


def read_text(path: Path, *, what: str = "data file") -> str:
    """A UTF-8 text file (``.gz`` too) as a string, without a leading byte-order mark; a missing or
    unreadable file, or one that is not UTF-8, is one :class:`DataError` line naming it."""
    path = Path(path)
    try:
        raw = _raw_bytes(path)
    except FileNotFoundError:
        raise DataError(f"{what} {path} not found", "check the path") from None
    except OSError as err:
        raise DataError(f"cannot read {what} {path}: {err.strerror}", "check the path and its permissions") from err
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file (``.gz`` too), line ends kept as written (so
    :mod:`csv` can read them); a byte that is not UTF-8 is a :class:`DataError` naming it."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            yield from enumerate(f, start=1)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def json_lines(path: Path, *, fix: str = "repair or re-download that file") -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of every non-blank line of a JSON Lines file (``.gz`` too); a
    malformed line is a :class:`DataError` naming it, with ``fix``."""
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"malformed JSON in {path} at line {number} ({err.msg})", fix) from err


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines file (``.gz`` too); a malformed line is a :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir (it must be laid out like shared/data) or drop it to load from the hub")
    for number, row in json_lines(path):
        if not isinstance(row, dict):
            raise DataError(f"line {number} of {path} is not a JSON object", "repair or re-download that file")
        yield row


def read_json_list(path: Path) -> list[dict[str, Any]]:
    """A file holding one JSON list of objects (``.gz`` too)."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir or drop it to load from the hub")
    try:
        rows = json.loads(read_text(path))
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
