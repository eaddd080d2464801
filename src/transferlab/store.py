"""The crash-safe store: one SQLite file (WAL) holding every completion and every score.

Completions are committed as they arrive and never rewritten. A completion's key is a hash of
(model key, benchmark, item id, rendered prompt, sampling settings incl. seed, sample index), so a
killed run resumes by skipping the keys already stored and never generates one twice. Scores live
in their own table, keyed by (completion, scorer), so anything can be re-scored without
generating again. Where the backend knows them, the token ids it generated are kept beside the
text (table ``completion_ids``: little-endian uint32, 4 bytes a token), so an analysis can score
exactly those tokens instead of re-tokenizing the text.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import StoreError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_key TEXT PRIMARY KEY, name TEXT NOT NULL, revision TEXT, fingerprint TEXT,
    info TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS gen_configs (gen_key TEXT PRIMARY KEY, settings TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prompts (prompt_hash TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    benchmark TEXT NOT NULL, item_id TEXT NOT NULL, reference TEXT NOT NULL, meta TEXT NOT NULL,
    PRIMARY KEY (benchmark, item_id));
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model_key TEXT NOT NULL, benchmark TEXT NOT NULL, item_id TEXT NOT NULL,
    prompt_hash TEXT NOT NULL, gen_key TEXT NOT NULL, seed INTEGER NOT NULL, sample_index INTEGER NOT NULL,
    text TEXT NOT NULL, finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER, completion_tokens INTEGER, run_id TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS completions_by_model ON completions (model_key, benchmark);
CREATE TABLE IF NOT EXISTS completion_ids (key TEXT PRIMARY KEY, ids BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    completion_key TEXT NOT NULL, scorer TEXT NOT NULL,
    score REAL NOT NULL, extracted TEXT, thinking TEXT, answer TEXT, thinking_status TEXT,
    status TEXT NOT NULL, details TEXT, created REAL NOT NULL,
    PRIMARY KEY (completion_key, scorer));
CREATE TABLE IF NOT EXISTS studies (study TEXT PRIMARY KEY, spec TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS study_models (
    study TEXT NOT NULL, name TEXT NOT NULL, model_key TEXT NOT NULL, source TEXT NOT NULL,
    training TEXT NOT NULL, base TEXT, updated REAL NOT NULL, PRIMARY KEY (study, name));
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, model_key TEXT NOT NULL, benchmarks TEXT NOT NULL,
    settings TEXT NOT NULL, versions TEXT NOT NULL, argv TEXT, started REAL NOT NULL);
"""


def sha(text: str, n: int = 16) -> str:
    """A short hex digest of ``text`` (``n`` hex digits)."""
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def completion_key(model_key: str, benchmark: str, item_id: str, prompt_hash: str, gen_key: str, sample_index: int) -> str:
    """The identity of one completion (32 hex digits). ``gen_key`` already covers the seed."""
    return sha("\x1f".join([model_key, benchmark, item_id, prompt_hash, gen_key, str(sample_index)]), 32)


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a completion: a name plus a hub revision or a weights fingerprint."""

    name: str
    revision: str | None = None
    fingerprint: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``name@revision`` (or ``name@fingerprint``): the model part of every completion key."""
        tag = self.revision or self.fingerprint or "unversioned"
        return f"{self.name}@{tag}"


@dataclass(frozen=True)
class CompletionRecord:
    """One stored completion (raw text, finish reason and token counts)."""

    key: str
    model_key: str
    benchmark: str
    item_id: str
    prompt_hash: str
    gen_key: str
    seed: int
    sample_index: int
    text: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    run_id: str | None = None
    created: float = 0.0
    token_ids: tuple[int, ...] | None = field(default=None, compare=False)  # kept apart (completion_ids); not read back by completions()


@dataclass(frozen=True)
class ScoreRecord:
    """The verdict of one scorer on one completion."""

    completion_key: str
    scorer: str
    score: float
    status: str
    extracted: str | None = None
    thinking: str | None = None
    answer: str | None = None
    thinking_status: str | None = None
    details: dict[str, Any] | None = None


def _translate(err: sqlite3.Error, path: Path) -> StoreError:
    text = str(err)
    if "full" in text:
        return StoreError(f"the store {path} cannot grow: the disk is full", "free some space and run the same command again to resume")
    if "locked" in text or "busy" in text:
        return StoreError(f"the store {path} is locked by another process", "wait for it to finish or use another --store")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the store {path} is read-only", "make the file and its folder writable or use another --store")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is not a transferlab store (SQLite says: {text})", "point --store at a store file or a new path")
    return StoreError(f"the store {path} failed: {text}", "check the file and the disk, then run again to resume")


READ_ONLY_FIX = "results, export, ti and report read it as it is; to add to it, copy it somewhere writable or use another --store"


class Store:
    """An append-only SQLite store, safe to share between threads and processes.

    Every write is its own transaction, so a SIGKILL loses at most the completions still being
    generated. Use as a context manager or call :meth:`close`.

    The mode is decided here, once: ``readonly`` opens a store that must exist, also on a read-only
    file or folder; otherwise the store (created when missing, unless ``create`` is False) and its
    folder must be writable, or the error says the store is read-only. A store this object created
    is removed again when its ``with`` block fails before any completion was stored, so a failed
    command leaves no empty store behind.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, create: bool = True) -> None:
        self.path = Path(path)
        if (readonly or not create) and not self.path.exists():
            raise StoreError(f"no store at {self.path}", "run `transferlab eval --store PATH` first or check the path")
        if not readonly:
            self._check_writable()
        self.created = not self.path.exists()
        self._lock = threading.RLock()
        try:
            self._db = self._connect(readonly)
            version = self._schema_version()
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} has schema version {version}, newer than this transferlab's {SCHEMA_VERSION}",
                    "upgrade transferlab (pip install -U transferlab) to read it",
                )
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.executescript(_SCHEMA)  # idempotent: CREATE ... IF NOT EXISTS
                self._write("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", [(str(SCHEMA_VERSION),)])
        except sqlite3.Error as err:
            raise _translate(err, self.path) from err

    def _check_writable(self) -> None:
        folder = self.path.parent
        if not folder.exists():
            raise StoreError(f"the folder {folder} does not exist", "create it or choose another --store path")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise StoreError(f"the store {self.path} is read-only", READ_ONLY_FIX)
        if not os.access(folder, os.W_OK | os.X_OK):
            if not self.path.exists():
                raise StoreError(f"the folder {folder} is read-only, so no store can be created there", "choose a --store path in a writable folder")
            raise StoreError(f"the folder {folder} of the store is read-only, and SQLite writes its journal there", READ_ONLY_FIX)

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        """The connection; read-only, a store in a write-ahead-log mode whose ``-shm`` file cannot be
        made (a read-only folder) is opened as immutable, unless a ``-wal`` holds commits the file has
        not taken in yet (those would be missed)."""
        if not readonly:
            db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 60000")
            return db
        uri = self.path.resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 60000")
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError as err:
            db.close()
            if "unable to open" not in str(err):
                raise
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"the store {self.path} has commits in {wal.name} that SQLite cannot read in a read-only folder",
                    "copy the store and its -wal file to a writable folder and read the copy",
                ) from err
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False, isolation_level=None)

    def _schema_version(self) -> int | None:
        has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            if self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"{self.path} is an SQLite file but not a transferlab store", "use another --store path")
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    # -- plumbing ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, store: Store) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            self.store._db.execute("BEGIN IMMEDIATE")
            return self.store._db

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            db = self.store._db
            try:
                if exc_type is None:
                    db.execute("COMMIT")
                elif db.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
                    db.execute("ROLLBACK")
            finally:
                self.store._lock.release()

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self)

    def _write(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` for every row in one transaction; returns how many rows changed."""
        if not rows:
            return 0
        try:
            with self._transaction() as db:
                before = db.total_changes
                db.executemany(sql, rows)
                return db.total_changes - before
        except sqlite3.Error as err:
            raise _translate(err, self.path) from err

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                cur = self._db.execute(sql, params)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        except sqlite3.Error as err:
            raise _translate(err, self.path) from err

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        empty = exc_type is not None and self.created and not self._has_completions()
        self.close()
        if empty:  # a failed command leaves no empty store behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def _has_completions(self) -> bool:
        try:
            return bool(self._query("SELECT 1 AS x FROM completions LIMIT 1"))
        except StoreError:
            return True  # unreadable: keep it, whatever it holds

    # -- writes -----------------------------------------------------------------------------
    def add_model(self, model: ModelInfo) -> str:
        """Record a model (idempotent); returns its key."""
        self._write(
            "INSERT OR IGNORE INTO models (model_key, name, revision, fingerprint, info, created) VALUES (?,?,?,?,?,?)",
            [(model.key, model.name, model.revision, model.fingerprint, json.dumps(model.info, sort_keys=True), time.time())],
        )
        return model.key

    def add_gen_config(self, gen_key: str, settings: dict[str, Any]) -> None:
        """Record the sampling settings behind a ``gen_key`` (idempotent)."""
        self._write("INSERT OR IGNORE INTO gen_configs (gen_key, settings) VALUES (?, ?)", [(gen_key, json.dumps(settings, sort_keys=True))])

    def add_prompts(self, prompts: Iterable[str]) -> dict[str, str]:
        """Store rendered prompts once each; returns ``{text: prompt_hash}``."""
        mapping = {text: sha(text, 32) for text in prompts}
        self._write("INSERT OR IGNORE INTO prompts (prompt_hash, text) VALUES (?, ?)", [(h, t) for t, h in mapping.items()])
        return mapping

    def add_items(self, benchmark: str, items: Sequence[Any]) -> None:
        """Keep each item's reference answer and scoring metadata, so scoring needs no data files.

        An item already stored unchanged is not rewritten.
        """
        self._write(
            "INSERT INTO items (benchmark, item_id, reference, meta) VALUES (?,?,?,?) "
            "ON CONFLICT (benchmark, item_id) DO UPDATE SET reference = excluded.reference, meta = excluded.meta "
            "WHERE reference != excluded.reference OR meta != excluded.meta",
            [(benchmark, i.id, json.dumps(i.reference), json.dumps(i.meta, sort_keys=True)) for i in items],
        )

    def items(self, benchmark: str) -> dict[str, tuple[Any, dict[str, Any]]]:
        """``{item_id: (reference, meta)}`` of one benchmark."""
        rows = self._query("SELECT item_id, reference, meta FROM items WHERE benchmark = ?", (benchmark,))
        return {r["item_id"]: (json.loads(r["reference"]), json.loads(r["meta"])) for r in rows}

    def add_run(
        self, run_id: str, model_key: str, benchmarks: Sequence[str], settings: dict[str, Any], versions: dict[str, str], argv: Sequence[str] | None
    ) -> None:
        """Record one invocation: its settings and the library versions it ran with."""
        self._write(
            "INSERT OR IGNORE INTO runs (run_id, model_key, benchmarks, settings, versions, argv, started) VALUES (?,?,?,?,?,?,?)",
            [
                (
                    run_id,
                    model_key,
                    json.dumps(list(benchmarks)),
                    json.dumps(settings, sort_keys=True),
                    json.dumps(versions, sort_keys=True),
                    json.dumps(list(argv or [])),
                    time.time(),
                )
            ],
        )

    def add_completions(self, records: Sequence[CompletionRecord]) -> int:
        """Commit completions in one transaction; a key already stored is left as it was.

        Returns how many were new.
        """
        now = time.time()
        rows = [
            (
                r.key,
                r.model_key,
                r.benchmark,
                r.item_id,
                r.prompt_hash,
                r.gen_key,
                r.seed,
                r.sample_index,
                r.text,
                r.finish_reason,
                r.prompt_tokens,
                r.completion_tokens,
                r.run_id,
                r.created or now,
            )
            for r in records
        ]
        ids = [(r.key, np.asarray(r.token_ids, dtype="<u4").tobytes()) for r in records if r.token_ids is not None]
        if not rows:
            return 0
        try:
            with self._transaction() as db:
                before = db.total_changes
                db.executemany("INSERT OR IGNORE INTO completions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                added = db.total_changes - before
                db.executemany("INSERT OR IGNORE INTO completion_ids (key, ids) VALUES (?, ?)", ids)
                return added
        except sqlite3.Error as err:
            raise _translate(err, self.path) from err

    def token_ids(self, keys: Iterable[str]) -> dict[str, list[int]]:
        """The generated token ids of those completions that have them stored (``{key: ids}``)."""
        wanted = list(keys)
        if not wanted or not self._query("SELECT 1 AS x FROM sqlite_master WHERE type='table' AND name='completion_ids'"):
            return {}  # a store written before token ids were kept, opened read-only
        found: dict[str, list[int]] = {}
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start : start + 500]
            rows = self._query(f"SELECT key, ids FROM completion_ids WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update({r["key"]: np.frombuffer(r["ids"], dtype="<u4").astype(np.int64).tolist() for r in rows})
        return found

    def put_scores(self, records: Sequence[ScoreRecord]) -> None:
        """Write scores, replacing an earlier verdict of the same scorer on the same completion."""
        now = time.time()
        rows = [
            (
                r.completion_key,
                r.scorer,
                float(r.score),
                r.extracted,
                r.thinking,
                r.answer,
                r.thinking_status,
                r.status,
                json.dumps(r.details) if r.details is not None else None,
                now,
            )
            for r in records
        ]
        self._write("INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def record_study(self, name: str, spec: dict[str, Any]) -> None:
        """Keep a study spec (JSON-ready) under its name."""
        self._write("INSERT OR REPLACE INTO studies (study, spec, updated) VALUES (?,?,?)", [(name, json.dumps(spec, sort_keys=True), time.time())])

    def record_study_model(self, study: str, name: str, model_key: str, *, source: str, training: str, base: str | None) -> None:
        """Remember which model key a study's model name stands for."""
        self._write(
            "INSERT OR REPLACE INTO study_models (study, name, model_key, source, training, base, updated) VALUES (?,?,?,?,?,?,?)",
            [(study, name, model_key, source, training, base, time.time())],
        )

    # -- reads ------------------------------------------------------------------------------
    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT 1 AS x FROM sqlite_master WHERE type='table' AND name=?", (name,)))

    def studies(self) -> dict[str, dict[str, Any]]:
        """Every recorded study spec (as stored JSON) by name, oldest first."""
        if not self._has_table("studies"):  # a read-only store written before studies existed
            return {}
        return {r["study"]: json.loads(r["spec"]) for r in self._query("SELECT study, spec FROM studies ORDER BY updated")}

    def study_model_keys(self, study: str) -> dict[str, str]:
        """``{model name: model key}`` of a recorded study."""
        if not self._has_table("study_models"):
            return {}
        return {r["name"]: r["model_key"] for r in self._query("SELECT name, model_key FROM study_models WHERE study = ?", (study,))}

    def scored_keys(self, scorer: str, *, model_key: str | None = None, benchmark: str | None = None) -> set[str]:
        """Keys of the completions that already hold a verdict of ``scorer``."""
        where, params = self._filters(model_key, benchmark, table="c")
        where = (where + " AND" if where else "WHERE") + " s.scorer = ?"
        sql = f"SELECT c.key FROM completions c JOIN scores s ON s.completion_key = c.key {where}"
        return {r["key"] for r in self._query(sql, [*params, scorer])}

    def gen_keys(self, model_key: str) -> list[tuple[str, str]]:
        """The distinct (benchmark, settings key) pairs of a model's completions."""
        rows = self._query("SELECT DISTINCT benchmark, gen_key FROM completions WHERE model_key = ? ORDER BY benchmark, gen_key", (model_key,))
        return [(r["benchmark"], r["gen_key"]) for r in rows]

    def count_completions(self) -> int:
        """How many completions are stored."""
        return int(self._query("SELECT count(*) AS n FROM completions")[0]["n"])

    def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` already stored."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r["key"] for r in self._query(f"SELECT key FROM completions WHERE key IN ({marks})", chunk))
        return found

    def models(self) -> list[dict[str, Any]]:
        """Every stored model with its info."""
        return self._query("SELECT * FROM models ORDER BY created")

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run."""
        return self._query("SELECT * FROM runs ORDER BY started")

    def gen_settings(self, gen_key: str) -> dict[str, Any] | None:
        """The sampling settings behind a ``gen_key``."""
        rows = self._query("SELECT settings FROM gen_configs WHERE gen_key = ?", (gen_key,))
        return json.loads(rows[0]["settings"]) if rows else None

    def prompt_text(self, prompt_hash: str) -> str | None:
        """The rendered prompt with this hash."""
        rows = self._query("SELECT text FROM prompts WHERE prompt_hash = ?", (prompt_hash,))
        return rows[0]["text"] if rows else None

    def completions(self, *, model_key: str | None = None, benchmark: str | None = None) -> list[CompletionRecord]:
        """Stored completions, optionally filtered, in a stable order."""
        where, params = self._filters(model_key, benchmark, table="completions")
        rows = self._query(f"SELECT * FROM completions {where} ORDER BY model_key, benchmark, item_id, sample_index, key", params)
        return [CompletionRecord(**row) for row in rows]

    def rows(self, *, model_key: str | None = None, benchmark: str | None = None) -> Iterator[dict[str, Any]]:
        """Completions joined with their prompt and score (``None`` fields where unscored)."""
        where, params = self._filters(model_key, benchmark, table="c")
        sql = f"""
            SELECT c.*, p.text AS prompt, s.scorer, s.score, s.extracted, s.thinking, s.answer,
                   s.thinking_status, s.status AS score_status, s.details
            FROM completions c JOIN prompts p ON p.prompt_hash = c.prompt_hash
            LEFT JOIN scores s ON s.completion_key = c.key
            {where} ORDER BY c.model_key, c.benchmark, c.item_id, c.sample_index, c.key"""
        for row in self._query(sql, params):
            row["details"] = json.loads(row["details"]) if row.get("details") else None
            yield row

    @staticmethod
    def _filters(model_key: str | None, benchmark: str | None, *, table: str) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if model_key is not None:
            clauses.append(f"{table}.model_key = ?")
            params.append(model_key)
        if benchmark is not None:
            clauses.append(f"{table}.benchmark = ?")
            params.append(benchmark)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def to_dataframe(self, **filters: Any) -> Any:
        """Completions with scores as a pandas DataFrame (one row per completion and scorer)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows(**filters)))


def record_dict(record: CompletionRecord | ScoreRecord) -> dict[str, Any]:
    """A record as a plain dict."""
    return asdict(record)
