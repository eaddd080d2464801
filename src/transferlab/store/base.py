"""The store's connection: opening (and migrating) the file, short write transactions, streamed reads.

Every write is one ``BEGIN IMMEDIATE`` transaction, short, so several processes can write one store
(WAL mode; each waits up to :data:`BUSY_TIMEOUT_S` for the lock). Long reads stream from a
connection of their own (:meth:`StoreBase._stream`): a WAL reader sees one snapshot and never
blocks writers, and no read holds more than a chunk of rows in memory.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from transferlab.errors import StoreError
from transferlab.store.migrate import migrate_v1
from transferlab.store.schema import SCHEMA, SCHEMA_VERSION, V1_VIEWS, refuse_newer, schema_version, statements
from transferlab.store.texts import Codec, load_dictionaries

BUSY_TIMEOUT_S = 60
READ_ONLY_FIX = "results, export, ti and report read it as it is; to add to it, copy it somewhere writable or use another --store"
STREAM_CHUNK = 256  # rows fetched at a time by streamed reads


def translate(err: sqlite3.Error, path: Path) -> StoreError:
    """An SQLite error as one line a user can act on."""
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


class StoreBase:
    """The connection of a :class:`~transferlab.store.Store` (thread-safe: one lock per store).

    The mode is decided here, once: ``readonly`` opens a store that must exist, also on a read-only
    file or folder; otherwise the store (created when missing, unless ``create`` is False) and its
    folder must be writable, or the error says the store is read-only. ``created``: this object made
    the file (a failed command then removes it again, see :meth:`Store.__exit__`)."""

    def __init__(self, path: str | Path, *, readonly: bool = False, create: bool = True) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if (readonly or not create) and not self.path.exists():
            raise StoreError(f"no store at {self.path}", "run `transferlab eval --store PATH` first or check the path")
        if not readonly:
            self._check_writable()
        self.created = not self.path.exists()
        self._lock = threading.RLock()
        self._codec = Codec()
        self.migrated_from: int | None = None  # the version this open migrated from, if it did
        try:
            self._db = self._connect(readonly)
            version = schema_version(self._db, str(self.path))
            refuse_newer(version, str(self.path))
            self._legacy = readonly and version == 1
            if self._legacy:
                self._add_v1_views(self._db)
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._create_or_migrate()
            if version is not None or not readonly:
                load_dictionaries(self._db, self._codec)
        except sqlite3.Error as err:
            raise translate(err, self.path) from err

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
        """The connection; read-only, a store in write-ahead-log mode whose ``-shm`` file cannot be
        made (a read-only folder) is opened as immutable, unless a ``-wal`` holds commits the file has
        not taken in yet (those would be missed)."""
        uri = self.path.resolve().as_uri()
        db = sqlite3.connect(uri + ("?mode=ro" if readonly else ""), uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        if not readonly:
            return db
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

    @staticmethod
    def _add_v1_views(db: sqlite3.Connection) -> None:
        for statement in statements(V1_VIEWS):
            db.execute(statement)

    def _create_or_migrate(self) -> None:
        """Create the tables, or migrate an older store, in one transaction (rechecking the version
        inside it: another process may have migrated the store meanwhile)."""
        with self._transaction() as db:
            version = schema_version(db, str(self.path))
            refuse_newer(version, str(self.path))
            if version == 1:
                migrate_v1(db, self._codec, str(self.path))
                self.migrated_from = 1
                return
            for statement in statements(SCHEMA):  # idempotent: CREATE ... IF NOT EXISTS
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))

    # -- transactions and queries ------------------------------------------------------------
    class _Tx:
        def __init__(self, store: StoreBase) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            try:
                self.store._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
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

    def _transaction(self) -> StoreBase._Tx:
        return StoreBase._Tx(self)

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
            raise translate(err, self.path) from err

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                cur = self._db.execute(sql, params)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        except sqlite3.Error as err:
            raise translate(err, self.path) from err

    def _tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise translate(err, self.path) from err

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` from a read-only connection of their own, :data:`STREAM_CHUNK` at a time."""
        try:
            db = self._connect(readonly=True)
        except sqlite3.Error as err:
            raise translate(err, self.path) from err
        try:
            if self._legacy:
                self._add_v1_views(db)
            cur = db.execute(sql, params)
            while chunk := cur.fetchmany(STREAM_CHUNK):
                yield from chunk
        except sqlite3.Error as err:
            raise translate(err, self.path) from err
        finally:
            db.close()

    def reader(self) -> sqlite3.Connection:
        """A read-only connection of its own (for a caller that keeps one per thread, like the
        viewer), a version-1 store read as version 2; texts read through it are decoded with
        :meth:`Store.texts`. The caller closes it."""
        try:
            db = self._connect(readonly=True)
            if self._legacy:
                self._add_v1_views(db)
            db.execute("PRAGMA query_only = 1")
            return db
        except sqlite3.Error as err:
            raise translate(err, self.path) from err

    def _has_table(self, name: str) -> bool:
        return bool(self._tuples("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)))

    def _text(self, data: str | bytes) -> str:
        """A stored text, decompressed (loading a dictionary another process stored since)."""
        try:
            return self._codec.decode(data)
        except KeyError:
            with self._lock:
                load_dictionaries(self._db, self._codec)
            return self._codec.decode(data)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()
