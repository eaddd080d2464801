"""The store's tables (schema version 2), the columns of version 1, and the views that let a
read-only connection read a version-1 store as if it were version 2.

Version 2 (see docs/store.md):

- ``completions``: one row per completion, its identity and counts, without its text;
- ``completion_texts``: each text once, a zstd frame (``BLOB``; with the benchmark's trained
  dictionary where one pays, named by the frame's dictionary id) or plain ``TEXT`` when short;
- ``dictionaries``: zstd dictionaries by id, each trained on one benchmark's texts;
- ``scores``: one verdict per (completion, scorer); the thinking and the answer the scorer split
  off are spans of the text (``*_start``/``*_end``: character offsets), and ``thinking``/``answer``
  hold text only where it is not a span of the stored text;
- ``leases``: completions a worker is generating (until ``expires``, seconds since the epoch);
- ``merges``: where merged completions came from.
"""

from __future__ import annotations

import sqlite3

from transferlab.errors import StoreError

SCHEMA_VERSION = 2

SCHEMA = """
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
    finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER, completion_tokens INTEGER, run_id TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS completions_by_cell ON completions (model_key, benchmark, gen_key, item_id, sample_index, key);
CREATE INDEX IF NOT EXISTS completions_by_benchmark ON completions (benchmark);
CREATE TABLE IF NOT EXISTS completion_texts (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dictionaries (dict_id INTEGER PRIMARY KEY, benchmark TEXT NOT NULL, data BLOB NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS completion_ids (key TEXT PRIMARY KEY, ids BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    completion_key TEXT NOT NULL, scorer TEXT NOT NULL,
    score REAL NOT NULL, extracted TEXT, thinking_status TEXT,
    status TEXT NOT NULL, details TEXT, created REAL NOT NULL,
    thinking_start INTEGER, thinking_end INTEGER, answer_start INTEGER, answer_end INTEGER,
    thinking TEXT, answer TEXT,
    PRIMARY KEY (completion_key, scorer));
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, worker TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS leases_by_worker ON leases (worker);
CREATE TABLE IF NOT EXISTS merges (
    source TEXT NOT NULL, store_id TEXT, merged REAL NOT NULL, completions INTEGER NOT NULL, scores INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS studies (study TEXT PRIMARY KEY, spec TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS study_models (
    study TEXT NOT NULL, name TEXT NOT NULL, model_key TEXT NOT NULL, source TEXT NOT NULL,
    training TEXT NOT NULL, base TEXT, updated REAL NOT NULL, PRIMARY KEY (study, name));
CREATE TABLE IF NOT EXISTS benchmark_definitions (benchmark TEXT PRIMARY KEY, definition TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, model_key TEXT NOT NULL, benchmarks TEXT NOT NULL,
    settings TEXT NOT NULL, versions TEXT NOT NULL, argv TEXT, started REAL NOT NULL);
"""

# The columns version 1 (transferlab before issue 22) had in the two tables version 2 changes.
V1_COLUMNS = {
    "completions": (
        "key",
        "model_key",
        "benchmark",
        "item_id",
        "prompt_hash",
        "gen_key",
        "seed",
        "sample_index",
        "text",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "run_id",
        "created",
    ),
    "scores": ("completion_key", "scorer", "score", "extracted", "thinking", "answer", "thinking_status", "status", "details", "created"),
}

# Version 1 read as version 2, on a read-only connection (TEMP views are found before main's tables).
V1_VIEWS = """
CREATE TEMP VIEW completion_texts AS SELECT key, text AS data FROM main.completions;
CREATE TEMP VIEW scores AS SELECT completion_key, scorer, score, extracted, thinking_status, status, details, created,
    NULL AS thinking_start, NULL AS thinking_end, NULL AS answer_start, NULL AS answer_end, thinking, answer FROM main.scores;
CREATE TEMP VIEW dictionaries AS SELECT NULL AS dict_id, NULL AS benchmark, NULL AS data, NULL AS created WHERE 0;
"""


def statements(script: str) -> list[str]:
    """The statements of a DDL script (none holds a ``;`` inside), to run one by one inside a
    transaction (``executescript`` would commit first)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def has_table(db: sqlite3.Connection, name: str, schema: str = "main") -> bool:
    """True when ``schema`` holds a table ``name``."""
    return db.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def columns(db: sqlite3.Connection, table: str, schema: str = "main") -> tuple[str, ...]:
    """The column names of ``schema.table`` in order."""
    return tuple(str(row[1]) for row in db.execute(f"PRAGMA {schema}.table_info({table})"))


def schema_version(db: sqlite3.Connection, where: str, schema: str = "main") -> int | None:
    """The store's schema version (None: an empty file); a non-store SQLite file is a StoreError."""
    if not has_table(db, "meta", schema):
        if db.execute(f"SELECT count(*) FROM {schema}.sqlite_master").fetchone()[0]:
            raise StoreError(f"{where} is an SQLite file but not a transferlab store", "use another --store path")
        return None
    row = db.execute(f"SELECT value FROM {schema}.meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else None


def refuse_newer(version: int | None, where: str) -> None:
    """A store written by a newer transferlab is never opened (nor changed)."""
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {where} has schema version {version}, newer than this transferlab's {SCHEMA_VERSION}",
            "upgrade transferlab (pip install -U transferlab) to read it",
        )
