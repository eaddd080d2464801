"""Joining stores written on several machines (``transferlab merge a.db b.db --into all.db``).

Each source is read through ``ATTACH`` (never changed; a version-1 source is first copied and the
copy migrated) and merged in one transaction. Before anything is written, every store (the target
and all sources) is profiled and the merge refused, in one line, where they disagree:

- a model and benchmark stored under different settings (different sets of settings keys),
  unless ``allow_mixed_settings``;
- a benchmark item with another reference or metadata (the benchmark data differ);
- a dictionary id standing for two different dictionaries.

Completions, texts, token ids, prompts, items, models, settings, runs and dictionaries are copied
where missing; a verdict replaces the target's only when it is newer; studies likewise. A completion
both stores hold with different texts (generation is not always deterministic) keeps the target's
text, and the source's verdicts on it are left out (counted in the summary). Merging the same source
again changes nothing, and each merge that added something is recorded in ``merges``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from transferlab.errors import StoreError
from transferlab.store.base import translate
from transferlab.store.core import Store
from transferlab.store.schema import SCHEMA_VERSION, columns, refuse_newer, schema_version
from transferlab.store.texts import load_dictionaries


@dataclass(frozen=True)
class MergeSummary:
    """What one source added: new completions, verdicts added or replaced, completions whose texts
    differ between the stores (the target's kept), and runs recorded."""

    source: str
    completions: int
    scores: int
    differing: int
    runs: int


@dataclass
class _Profile:
    """What the conflict checks compare, read from one store."""

    name: str
    settings: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (model, benchmark) -> settings keys
    gen_configs: dict[str, str] = field(default_factory=dict)
    items: dict[tuple[str, str], str] = field(default_factory=dict)  # (benchmark, item id) -> digest of reference and meta
    dictionaries: dict[int, str] = field(default_factory=dict)  # id -> digest


def merge_stores(sources: Sequence[str | Path], into: str | Path, *, allow_mixed_settings: bool = False) -> list[MergeSummary]:
    """Merge ``sources`` into the store ``into`` (created if missing); see the module docstring."""
    target_path = Path(into)
    paths = [Path(s) for s in sources]
    for p in paths:
        if not p.exists():
            raise StoreError(f"no store at {p}", "check the path of each store to merge")
        if target_path.exists() and p.resolve() == target_path.resolve():
            raise StoreError(f"{p} is both a source and the target", "merge into another file")
    if len({p.resolve() for p in paths}) < len(paths):
        raise StoreError("a store is named twice among the sources", "name each store once")
    with Store(target_path) as target, tempfile.TemporaryDirectory(dir=target_path.parent, prefix=".merge-") as scratch:
        ready = [_as_current(p, Path(scratch) / f"{n}.db") for n, p in enumerate(paths)]
        profiles = [_profile(target._db, "main", str(target_path))]
        for path, name in zip(ready, paths):
            with _attached(target, path):
                profiles.append(_profile(target._db, "src", str(name)))
        _refuse_conflicts(profiles, allow_mixed_settings)
        summaries = []
        for path, name in zip(ready, paths):
            with _attached(target, path):
                summaries.append(_merge_one(target, str(name)))
        return summaries


def vacuum(path: str | Path) -> tuple[int, int]:
    """Open (migrating an older store), then VACUUM: the file's size in bytes before and after."""
    before = Path(path).stat().st_size
    with Store(path) as store:
        try:
            with store._lock:
                store._db.execute("VACUUM")
        except sqlite3.Error as err:
            raise translate(err, store.path) from err
    return before, Path(path).stat().st_size


def _as_current(path: Path, scratch: Path) -> Path:
    """``path`` itself, or a migrated copy of it when it has an older schema."""
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as db:
        version = schema_version(db, str(path))
        refuse_newer(version, str(path))
        if version is None:
            raise StoreError(f"{path} is an empty file, not a store", "check the paths of the stores to merge")
        if version == SCHEMA_VERSION:
            return path
        with closing(sqlite3.connect(scratch)) as copy:
            db.backup(copy)
    Store(scratch).close()  # migrates the copy
    return scratch


class _attached:
    """``ATTACH`` a store as ``src`` on the target's connection for a ``with`` block."""

    def __init__(self, target: Store, path: Path) -> None:
        self.target, self.path = target, path

    def __enter__(self) -> None:
        self.target._lock.acquire()
        try:
            self.target._db.execute("ATTACH DATABASE ? AS src", (self.path.resolve().as_uri() + "?mode=ro",))
        except sqlite3.Error as err:
            self.target._lock.release()
            raise translate(err, self.path) from err

    def __exit__(self, *exc: object) -> None:
        try:
            self.target._db.execute("DETACH DATABASE src")
        finally:
            self.target._lock.release()


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _profile(db: sqlite3.Connection, schema: str, name: str) -> _Profile:
    found = _Profile(name)
    settings: dict[tuple[str, str], set[str]] = defaultdict(set)
    for model, bench, gen_key in db.execute(f"SELECT DISTINCT model_key, benchmark, gen_key FROM {schema}.completions"):
        settings[(model, bench)].add(gen_key)
    found.settings = dict(settings)
    found.gen_configs = {k: v for k, v in db.execute(f"SELECT gen_key, settings FROM {schema}.gen_configs")}
    found.items = {(b, i): _digest(r, m) for b, i, r, m in db.execute(f"SELECT benchmark, item_id, reference, meta FROM {schema}.items")}
    found.dictionaries = {int(i): _digest(bytes(d).hex()) for i, d in db.execute(f"SELECT dict_id, data FROM {schema}.dictionaries")}
    return found


def _refuse_conflicts(profiles: list[_Profile], allow_mixed_settings: bool) -> None:
    for n, a in enumerate(profiles):
        for b in profiles[n + 1 :]:
            if not allow_mixed_settings:
                for pair in sorted(set(a.settings) & set(b.settings)):
                    if a.settings[pair] != b.settings[pair]:
                        raise StoreError(
                            f"cannot merge: {pair[0]} on {pair[1]} is stored under other settings in {b.name} than in {a.name} ({_settings_diff(a, b, pair)})",
                            "merge stores evaluated with the same settings, or pass --allow-mixed-settings to keep both",
                        )
            for item in sorted(set(a.items) & set(b.items)):
                if a.items[item] != b.items[item]:
                    raise StoreError(
                        f"cannot merge: item {item[1]} of {item[0]} has another reference or metadata in {b.name} than in {a.name} (the benchmark data differ)",
                        "evaluate both from the same benchmark data, then merge",
                    )
            for dict_id in sorted(set(a.dictionaries) & set(b.dictionaries)):
                if a.dictionaries[dict_id] != b.dictionaries[dict_id]:
                    raise StoreError(f"cannot merge: dictionary {dict_id} differs between {a.name} and {b.name}", "merge these two stores into separate files")


def _settings_diff(a: _Profile, b: _Profile, pair: tuple[str, str]) -> str:
    def described(p: _Profile) -> dict[str, object]:
        merged: dict[str, object] = {}
        for gen_key in sorted(p.settings[pair]):
            for k, v in json.loads(p.gen_configs.get(gen_key, "{}")).items():
                merged[k] = v if k not in merged or merged[k] == v else "several"
        return merged

    left, right = described(a), described(b)
    diffs = [f"{k}: {left.get(k)} vs {right.get(k)}" for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k)]
    return "; ".join(diffs) or f"settings keys {', '.join(sorted(a.settings[pair]))} vs {', '.join(sorted(b.settings[pair]))}"


def _copy(db: sqlite3.Connection, table: str, *, conflict: str = "OR IGNORE", where: str = "") -> int:
    names = ", ".join(columns(db, table))
    before = db.total_changes
    db.execute(f"INSERT {conflict} INTO main.{table} ({names}) SELECT {names} FROM src.{table} {where}")
    return db.total_changes - before


def _newer(db: sqlite3.Connection, table: str, keys: str, stamp: str, where: str = "WHERE true") -> int:
    """Copy rows, replacing the target's where the source's are newer (by ``stamp``)."""
    cols = columns(db, table)
    names = ", ".join(cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys.split(", "))
    before = db.total_changes
    db.execute(
        f"INSERT INTO main.{table} ({names}) SELECT {names} FROM src.{table} {where} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE excluded.{stamp} > {table}.{stamp}"
    )
    return db.total_changes - before


def _merge_one(target: Store, name: str) -> MergeSummary:
    db = target._db
    try:
        load_dictionaries(db, target._codec)
        for dict_id, data in db.execute("SELECT dict_id, data FROM src.dictionaries"):
            target._codec.add_dictionary(int(dict_id), bytes(data))
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("models", "gen_configs", "prompts", "items", "dictionaries", "completion_ids"):
                _copy(db, table)
            if db.execute("SELECT 1 FROM src.sqlite_master WHERE type='table' AND name='benchmark_definitions'").fetchone():
                _copy(db, "benchmark_definitions")  # benchmarks of your own (a name holds its definition's hash)
            runs = _copy(db, "runs")
            db.execute("CREATE TEMP TABLE IF NOT EXISTS merge_differing (key TEXT PRIMARY KEY)")
            db.execute("DELETE FROM temp.merge_differing")
            pairs = db.execute(
                "SELECT t.key, t.data, s.data FROM main.completion_texts t JOIN src.completion_texts s ON s.key = t.key WHERE t.data IS NOT s.data"
            )
            differing = [(k,) for k, mine, theirs in pairs if target._codec.decode(mine) != target._codec.decode(theirs)]
            db.executemany("INSERT INTO temp.merge_differing (key) VALUES (?)", differing)
            added = _copy(db, "completions")
            _copy(db, "completion_texts")
            scores = _newer(db, "scores", "completion_key, scorer", "created", "WHERE completion_key NOT IN (SELECT key FROM temp.merge_differing)")
            _newer(db, "studies", "study", "updated")
            _newer(db, "study_models", "study, name", "updated")
            if added or scores or runs:
                store_id = db.execute("SELECT value FROM src.meta WHERE key = 'store_id'").fetchone()
                db.execute(
                    "INSERT INTO main.merges (source, store_id, merged, completions, scores) VALUES (?,?,?,?,?)",
                    (name, store_id[0] if store_id else None, time.time(), added, scores),
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        load_dictionaries(db, target._codec)
    except sqlite3.Error as err:
        raise translate(err, target.path) from err
    return MergeSummary(name, added, scores, len(differing), runs)
