"""Migrating a version-1 store (transferlab before issue 22) to version 2, in place.

The caller holds one write transaction (``BEGIN IMMEDIATE``) around :func:`migrate_v1`, so the
migration either happens whole or not at all: a crash, a full disk or a failed check leaves the
store exactly as version 1 left it. The check comes first: SQLite's ``quick_check`` and the columns
version 1 had. Then each text moves to ``completion_texts`` (compressed; a dictionary per benchmark
where one pays), each verdict's thinking and answer become spans of that text (kept as text only
where they are not part of it), and ``completions`` loses its text column (rebuilt, as SQLite does
it). Space the old copies took is free for new rows; ``transferlab migrate`` also gives it back to
the file system (VACUUM).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from transferlab.errors import StoreError
from transferlab.store.schema import SCHEMA, SCHEMA_VERSION, V1_COLUMNS, columns, has_table, statements
from transferlab.store.texts import NO_DICTIONARY, TRAIN_AT, Codec, span, train

BATCH = 256  # completions converted together

_SCORE_COLUMNS = (
    "completion_key, scorer, score, extracted, thinking_status, status, details, created, "
    "thinking_start, thinking_end, answer_start, answer_end, thinking, answer"
)


def check_v1(db: sqlite3.Connection, where: str) -> None:
    """Refuse to migrate a store SQLite finds damaged or whose tables are not version 1's."""
    found = db.execute("PRAGMA quick_check").fetchone()[0]
    if found != "ok":
        raise StoreError(
            f"the store {where} fails SQLite's check ({found}); it was not migrated", "restore it from a copy (or recover it with sqlite3 .recover)"
        )
    for table, wanted in V1_COLUMNS.items():
        missing = sorted(set(wanted) - set(columns(db, table))) if has_table(db, table) else ["the table"]
        if missing:
            raise StoreError(
                f"the store {where} says schema version 1 but its {table} table lacks {', '.join(missing)}; it was not migrated",
                "open it with the transferlab that wrote it, or restore it from a copy",
            )


def migrate_v1(db: sqlite3.Connection, codec: Codec, where: str) -> None:
    """Version 1 -> 2 inside the caller's write transaction (see the module docstring)."""
    check_v1(db, where)
    db.execute("ALTER TABLE completions RENAME TO v1_completions")
    db.execute("ALTER TABLE scores RENAME TO v1_scores")
    for statement in statements(SCHEMA):
        db.execute(statement)
    _train_dictionaries(db, codec)
    db.execute(
        "INSERT INTO completions (key, model_key, benchmark, item_id, prompt_hash, gen_key, seed, sample_index, finish_reason, "
        "prompt_tokens, completion_tokens, run_id, created) SELECT key, model_key, benchmark, item_id, prompt_hash, gen_key, seed, "
        "sample_index, finish_reason, prompt_tokens, completion_tokens, run_id, created FROM v1_completions"
    )
    reader = db.execute("SELECT key, benchmark, text FROM v1_completions")
    while batch := reader.fetchmany(BATCH):
        texts = {str(key): str(text) for key, _, text in batch}
        db.executemany(
            "INSERT INTO completion_texts (key, data) VALUES (?, ?)", [(key, codec.encode(text, codec.active.get(bench, 0))) for key, bench, text in batch]
        )
        marks = ",".join("?" * len(texts))
        verdicts = db.execute(
            f"SELECT completion_key, scorer, score, extracted, thinking_status, status, details, created, thinking, answer "
            f"FROM v1_scores WHERE completion_key IN ({marks})",
            list(texts),
        ).fetchall()
        db.executemany(f"INSERT INTO scores ({_SCORE_COLUMNS}) VALUES ({','.join('?' * 14)})", [_verdict(v, texts.get(v[0])) for v in verdicts])
    orphans = db.execute(
        "SELECT completion_key, scorer, score, extracted, thinking_status, status, details, created, thinking, answer "
        "FROM v1_scores WHERE completion_key NOT IN (SELECT key FROM v1_completions)"
    ).fetchall()
    db.executemany(f"INSERT INTO scores ({_SCORE_COLUMNS}) VALUES ({','.join('?' * 14)})", [_verdict(v, None) for v in orphans])
    db.execute("DROP TABLE v1_scores")
    db.execute("DROP TABLE v1_completions")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))


def _verdict(row: tuple[Any, ...], text: str | None) -> tuple[Any, ...]:
    """A version-1 verdict row as version 2 keeps it: thinking and answer as spans of ``text``."""
    thinking_start, thinking_end, thinking = span(text, row[8])
    answer_start, answer_end, answer = span(text, row[9])
    return (*row[:8], thinking_start, thinking_end, answer_start, answer_end, thinking, answer)


def _train_dictionaries(db: sqlite3.Connection, codec: Codec) -> None:
    """A dictionary for each benchmark with enough texts, where it pays (as new texts get one)."""
    benchmarks = [str(r[0]) for r in db.execute("SELECT benchmark FROM v1_completions GROUP BY benchmark HAVING count(*) >= ?", (TRAIN_AT,))]
    for benchmark in benchmarks:
        rows = db.execute("SELECT text FROM v1_completions WHERE benchmark = ? ORDER BY key LIMIT ?", (benchmark, TRAIN_AT)).fetchall()
        trained = train([str(r[0]) for r in rows])
        if trained is None:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (NO_DICTIONARY + benchmark,))
            codec.active[benchmark] = 0
            continue
        db.execute(
            "INSERT OR IGNORE INTO dictionaries (dict_id, benchmark, data, created) VALUES (?,?,?,?)",
            (trained.dict_id(), benchmark, trained.as_bytes(), time.time()),
        )
        codec.add_dictionary(trained.dict_id(), trained.as_bytes())
        codec.active[benchmark] = trained.dict_id()
