"""The :class:`Store`: what the rest of transferlab calls to write and read completions and verdicts.

Every SQL statement lives in this package. Reads that can grow with the store (verdicts of a cell,
completions with their texts, export rows) are generators streamed from their own connection;
tables of results aggregate in SQL or read only small columns, never the texts.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from transferlab.errors import StoreError
from transferlab.store.base import translate
from transferlab.store.leases import LeaseMixin
from transferlab.store.records import CompletionRecord, ModelInfo, ScoreRecord, sha
from transferlab.store.texts import cut, dictionary_decision, span

Cell = tuple[str, str, str]  # (model key, benchmark, settings key)

_COMPLETION_COLUMNS = (
    "key",
    "model_key",
    "benchmark",
    "item_id",
    "prompt_hash",
    "gen_key",
    "seed",
    "sample_index",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "run_id",
    "created",
)
_C = ", ".join(f"c.{name}" for name in _COMPLETION_COLUMNS)
_VERDICT = "s.scorer, s.score, s.extracted, s.thinking_status, s.status, s.details, s.thinking_start, s.thinking_end, s.answer_start, s.answer_end, s.thinking, s.answer"
_SMALL = ("key", "item_id", "sample_index", "gen_key", "finish_reason", "completion_tokens", "scorer", "score", "thinking_status", "score_status")
_IN_CHUNK = 500


class Store(LeaseMixin):
    """An append-only SQLite store of completions and verdicts, safe to share between threads and
    between processes on one machine (leases split the work; see :mod:`transferlab.store.leases`).

    Every write is its own short transaction, so a SIGKILL loses at most the completions still being
    generated. Use as a context manager or call :meth:`close`.
    """

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

    def add_run(
        self, run_id: str, model_key: str, benchmarks: Sequence[str], settings: dict[str, Any], versions: dict[str, str], argv: Sequence[str] | None
    ) -> None:
        """Record one invocation: its settings and the library versions it ran with."""
        row = (run_id, model_key, json.dumps(list(benchmarks)), json.dumps(settings, sort_keys=True), json.dumps(versions, sort_keys=True))
        self._write(
            "INSERT OR IGNORE INTO runs (run_id, model_key, benchmarks, settings, versions, argv, started) VALUES (?,?,?,?,?,?,?)",
            [(*row, json.dumps(list(argv or [])), time.time())],
        )

    def add_completions(self, records: Sequence[CompletionRecord]) -> int:
        """Commit completions (texts compressed) in one transaction, dropping their leases; a key
        already stored is left as it was. Returns how many were new."""
        if not records:
            return 0
        now = time.time()
        dicts = {b: self._dictionary_for(b) for b in {r.benchmark for r in records}}
        rows = [tuple(getattr(r, name) for name in _COMPLETION_COLUMNS[:-1]) + (r.created or now,) for r in records]
        texts = [(r.key, self._codec.encode(r.text, dicts[r.benchmark])) for r in records]
        ids = [(r.key, np.asarray(r.token_ids, dtype="<u4").tobytes()) for r in records if r.token_ids is not None]
        try:
            with self._transaction() as db:
                before = db.total_changes
                db.executemany(f"INSERT OR IGNORE INTO completions ({', '.join(_COMPLETION_COLUMNS)}) VALUES ({','.join('?' * 13)})", rows)
                added = db.total_changes - before
                db.executemany("INSERT OR IGNORE INTO completion_texts (key, data) VALUES (?, ?)", texts)
                db.executemany("INSERT OR IGNORE INTO completion_ids (key, ids) VALUES (?, ?)", ids)
                db.executemany("DELETE FROM leases WHERE key = ?", [(r.key,) for r in records])
                return added
        except sqlite3.Error as err:
            raise translate(err, self.path) from err

    def _dictionary_for(self, benchmark: str) -> int:
        """The dictionary new texts of ``benchmark`` are compressed with (0: none yet)."""
        if benchmark not in self._codec.active:
            try:
                with self._lock:
                    decision = dictionary_decision(self._db, self._codec, benchmark)
            except sqlite3.Error as err:
                raise translate(err, self.path) from err
            if decision is not None:
                self._write(decision[0], [decision[1]])
                with self._lock:
                    dictionary_decision(self._db, self._codec, benchmark)
        return self._codec.active.get(benchmark, 0)

    def put_scores(self, records: Sequence[ScoreRecord]) -> None:
        """Write verdicts, replacing an earlier verdict of the same scorer on the same completion.
        Thinking and answer are kept as spans of the stored text (as text where they are not in it)."""
        texts = self._texts_of([r.completion_key for r in records if r.thinking is not None or r.answer is not None])
        now = time.time()
        rows = []
        for r in records:
            text = texts.get(r.completion_key)
            thinking, answer = span(text, r.thinking), span(text, r.answer)
            details = json.dumps(r.details) if r.details is not None else None
            parts = (thinking[0], thinking[1], answer[0], answer[1], thinking[2], answer[2])
            rows.append((r.completion_key, r.scorer, float(r.score), r.extracted, r.thinking_status, r.status, details, now, *parts))
        self._write(
            "INSERT OR REPLACE INTO scores (completion_key, scorer, score, extracted, thinking_status, status, details, created, "
            "thinking_start, thinking_end, answer_start, answer_end, thinking, answer) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def record_study(self, name: str, spec: dict[str, Any]) -> None:
        """Keep a study spec (JSON-ready) under its name."""
        self._write("INSERT OR REPLACE INTO studies (study, spec, updated) VALUES (?,?,?)", [(name, json.dumps(spec, sort_keys=True), time.time())])

    def record_study_model(self, study: str, name: str, model_key: str, *, source: str, training: str, base: str | None) -> None:
        """Remember which model key a study's model name stands for."""
        self._write(
            "INSERT OR REPLACE INTO study_models (study, name, model_key, source, training, base, updated) VALUES (?,?,?,?,?,?,?)",
            [(study, name, model_key, source, training, base, time.time())],
        )

    # -- small reads ------------------------------------------------------------------------
    def add_benchmark_definition(self, benchmark: str, definition: dict[str, Any]) -> None:
        """Keep the definition of a benchmark of your own (idempotent: its name holds its hash), so
        scoring and tables rebuild it without its YAML."""
        self._write(
            "INSERT OR IGNORE INTO benchmark_definitions (benchmark, definition, created) VALUES (?,?,?)",
            [(benchmark, json.dumps(definition, sort_keys=True), time.time())],
        )

    def benchmark_definitions(self) -> dict[str, dict[str, Any]]:
        """``{stored benchmark name: definition}`` of the benchmarks of your own in this store."""
        if not self._has_table("benchmark_definitions"):
            return {}  # a store written before benchmarks of your own, opened read-only
        rows = self._query("SELECT benchmark, definition FROM benchmark_definitions")
        return {str(r["benchmark"]): json.loads(r["definition"]) for r in rows}

    def items(self, benchmark: str) -> dict[str, tuple[Any, dict[str, Any]]]:
        """``{item_id: (reference, meta)}`` of one benchmark."""
        rows = self._tuples("SELECT item_id, reference, meta FROM items WHERE benchmark = ?", (benchmark,))
        return {r[0]: (json.loads(r[1]), json.loads(r[2])) for r in rows}

    def studies(self) -> dict[str, dict[str, Any]]:
        """Every recorded study spec (as stored JSON) by name, oldest first."""
        if not self._has_table("studies"):  # a read-only store written before studies existed
            return {}
        return {r[0]: json.loads(r[1]) for r in self._tuples("SELECT study, spec FROM studies ORDER BY updated")}

    def study_model_keys(self, study: str) -> dict[str, str]:
        """``{model name: model key}`` of a recorded study."""
        if not self._has_table("study_models"):
            return {}
        return {r[0]: r[1] for r in self._tuples("SELECT name, model_key FROM study_models WHERE study = ?", (study,))}

    def models(self) -> list[dict[str, Any]]:
        """Every stored model with its info."""
        return self._query("SELECT * FROM models ORDER BY created")

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run."""
        return self._query("SELECT * FROM runs ORDER BY started")

    def gen_settings(self, gen_key: str) -> dict[str, Any] | None:
        """The sampling settings behind a ``gen_key``."""
        rows = self._tuples("SELECT settings FROM gen_configs WHERE gen_key = ?", (gen_key,))
        return json.loads(rows[0][0]) if rows else None

    def prompt_text(self, prompt_hash: str) -> str | None:
        """The rendered prompt with this hash."""
        rows = self._tuples("SELECT text FROM prompts WHERE prompt_hash = ?", (prompt_hash,))
        return str(rows[0][0]) if rows else None

    def count_completions(self) -> int:
        """How many completions are stored."""
        return int(self._tuples("SELECT count(*) FROM completions")[0][0])

    def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` already stored."""
        return {r[0] for r in self._in_chunks("SELECT key FROM completions WHERE key IN ({marks})", list(keys))}

    def gen_keys(self, model_key: str) -> list[tuple[str, str]]:
        """The distinct (benchmark, settings key) pairs of a model's completions."""
        rows = self._tuples("SELECT DISTINCT benchmark, gen_key FROM completions WHERE model_key = ? ORDER BY benchmark, gen_key", (model_key,))
        return [(r[0], r[1]) for r in rows]

    def benchmarks(self, model_key: str | None = None) -> list[str]:
        """The benchmarks with stored completions (of one model), sorted."""
        if model_key is None:
            return [r[0] for r in self._tuples("SELECT DISTINCT benchmark FROM completions ORDER BY benchmark")]
        return [r[0] for r in self._tuples("SELECT DISTINCT benchmark FROM completions WHERE model_key = ? ORDER BY benchmark", (model_key,))]

    def cells(self) -> list[Cell]:
        """Every (model key, benchmark, settings key) with completions, sorted."""
        return [(r[0], r[1], r[2]) for r in self._tuples("SELECT DISTINCT model_key, benchmark, gen_key FROM completions ORDER BY 1, 2, 3")]

    def cell_scorer_names(self, model_key: str, benchmark: str, gen_key: str, *, max_samples: int | None = None) -> set[str]:
        """The scorers with verdicts in one (model, benchmark, settings) cell (sample indices below
        ``max_samples``), found in SQL through the cell's index: one pass over the cell's verdicts."""
        sql = (
            "SELECT DISTINCT s.scorer FROM completions c JOIN scores s ON s.completion_key = c.key "
            "WHERE c.model_key = ? AND c.benchmark = ? AND c.gen_key = ?" + (" AND c.sample_index < ?" if max_samples is not None else "")
        )
        return {r[0] for r in self._tuples(sql, [model_key, benchmark, gen_key, *([max_samples] if max_samples is not None else [])])}

    def has_verdicts(self, model_key: str, benchmark: str, gen_key: str, scorer: str, *, max_samples: int | None = None) -> bool:
        """True when ``scorer`` graded at least one completion of the cell (sample indices below
        ``max_samples``); stops at the first one found, so it costs next to nothing where it did."""
        sql = (
            "SELECT EXISTS (SELECT 1 FROM completions c JOIN scores s ON s.completion_key = c.key AND s.scorer = ? "
            "WHERE c.model_key = ? AND c.benchmark = ? AND c.gen_key = ?" + (" AND c.sample_index < ?" if max_samples is not None else "") + ")"
        )
        return bool(self._tuples(sql, [scorer, model_key, benchmark, gen_key, *([max_samples] if max_samples is not None else [])])[0][0])

    def scored_keys(self, scorer: str, *, model_key: str | None = None, benchmark: str | None = None) -> set[str]:
        """Keys of the completions that already hold a verdict of ``scorer``."""
        where, params = _filters(model_key, benchmark)
        sql = f"SELECT c.key FROM completions c JOIN scores s ON s.completion_key = c.key AND s.scorer = ? {where}"
        return {r[0] for r in self._tuples(sql, [scorer, *params])}

    def completion_keys(self, *, model_key: str | None = None, benchmark: str | None = None, unscored_by: str | None = None) -> list[str]:
        """Keys of the stored completions (only those without a verdict of ``unscored_by``), in a stable order."""
        where, params = _filters(model_key, benchmark)
        if unscored_by is not None:
            where = (where + " AND" if where else "WHERE") + " NOT EXISTS (SELECT 1 FROM scores s WHERE s.completion_key = c.key AND s.scorer = ?)"
            params.append(unscored_by)
        return [
            r[0]
            for r in self._tuples(
                f"SELECT c.key FROM completions c {where} ORDER BY c.model_key, c.benchmark, c.gen_key, c.item_id, c.sample_index, c.key", params
            )
        ]

    def token_ids(self, keys: Iterable[str]) -> dict[str, list[int]]:
        """The generated token ids of those completions that have them stored (``{key: ids}``)."""
        wanted = list(keys)
        if not wanted or not self._has_table("completion_ids"):
            return {}  # a store written before token ids were kept, opened read-only
        rows = self._in_chunks("SELECT key, ids FROM completion_ids WHERE key IN ({marks})", wanted)
        return {r[0]: np.frombuffer(r[1], dtype="<u4").astype(np.int64).tolist() for r in rows}

    def _in_chunks(self, sql: str, keys: list[str]) -> list[tuple[Any, ...]]:
        """``sql`` (with ``{marks}``) run over ``keys`` a chunk at a time (SQLite's limit on bound parameters)."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            found += self._tuples(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return found

    def texts(self, keys: Iterable[str]) -> dict[str, str]:
        """The texts of those completions that are stored, decompressed (``{key: text}``)."""
        return self._texts_of(list(keys))

    def _texts_of(self, keys: list[str]) -> dict[str, str]:
        return {r[0]: self._text(r[1]) for r in self._in_chunks("SELECT key, data FROM completion_texts WHERE key IN ({marks})", keys)}

    # -- streamed reads ---------------------------------------------------------------------
    def verdict_rows(
        self, model_key: str, benchmark: str, gen_key: str, *, scorers: Sequence[str] | None = None, max_samples: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """One cell's completions with their verdicts, without texts: ``key item_id sample_index gen_key
        finish_reason completion_tokens scorer score thinking_status score_status`` and ``details``
        holding only the verdict's ``thinking_parser`` (``None`` where unscored). One row per
        verdict (``scorers`` None: every scorer's), or one per completion with the verdict of the
        scorers named (``None`` fields where it has none); ``max_samples`` keeps sample indices below it."""
        join = "s.completion_key = c.key" + ("" if scorers is None else f" AND s.scorer IN ({','.join('?' * len(scorers))})")
        sql = (
            "SELECT c.key, c.item_id, c.sample_index, c.gen_key, c.finish_reason, c.completion_tokens, s.scorer, s.score, s.thinking_status, s.status, "
            "json_extract(s.details, '$.thinking_parser') "
            f"FROM completions c LEFT JOIN scores s ON {join} WHERE c.model_key = ? AND c.benchmark = ? AND c.gen_key = ?"
            + (" AND c.sample_index < ?" if max_samples is not None else "")
            + " ORDER BY c.item_id, c.sample_index, c.key"
        )
        params = [*(scorers or []), model_key, benchmark, gen_key, *([max_samples] if max_samples is not None else [])]
        for row in self._stream(sql, params):
            out = dict(zip(_SMALL, row[:-1]))
            out["details"] = None if out["scorer"] is None else {"thinking_parser": row[-1]}
            yield out

    def rows(
        self, *, model_key: str | None = None, benchmark: str | None = None, gen_key: str | None = None, scorers: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Completions joined with their prompt and verdicts (``None`` fields where unscored),
        streamed: one row per verdict (``scorers`` None), or one per completion with the verdict of
        the scorers named. Texts, thinking and answer are given back whole."""
        where, params = _filters(model_key, benchmark, gen_key)
        join = "s.completion_key = c.key" + ("" if scorers is None else f" AND s.scorer IN ({','.join('?' * len(scorers))})")
        sql = (
            f"SELECT {_C}, t.data, p.text, {_VERDICT} FROM completions c JOIN completion_texts t ON t.key = c.key "
            f"JOIN prompts p ON p.prompt_hash = c.prompt_hash LEFT JOIN scores s ON {join} {where} "
            "ORDER BY c.model_key, c.benchmark, c.gen_key, c.item_id, c.sample_index, c.key"
        )
        width = len(_COMPLETION_COLUMNS)
        for row in self._stream(sql, [*(scorers or []), *params]):
            out = dict(zip(_COMPLETION_COLUMNS, row[:width]))
            text = self._text(row[width])
            scorer, score, extracted, thinking_status, status, details, t0, t1, a0, a1, thinking, answer = row[width + 2 :]
            out.update(
                text=text,
                prompt=row[width + 1],
                scorer=scorer,
                score=score,
                extracted=extracted,
                thinking=cut(text, t0, t1, thinking),
                answer=cut(text, a0, a1, answer),
                thinking_status=thinking_status,
                score_status=status,
                details=json.loads(details) if details else None,
            )
            yield out

    def iter_completions(self, *, model_key: str | None = None, benchmark: str | None = None) -> Iterator[CompletionRecord]:
        """Stored completions with their texts, optionally filtered, in a stable order (streamed)."""
        where, params = _filters(model_key, benchmark)
        sql = f"SELECT {_C}, t.data FROM completions c JOIN completion_texts t ON t.key = c.key {where} ORDER BY c.model_key, c.benchmark, c.item_id, c.sample_index, c.key"
        for row in self._stream(sql, params):
            yield _record(row[:-1], self._text(row[-1]))

    def completions(self, *, model_key: str | None = None, benchmark: str | None = None) -> list[CompletionRecord]:
        """Stored completions with their texts, optionally filtered, in a stable order (a list:
        filter it to what fits in memory, or use :meth:`iter_completions`)."""
        return list(self.iter_completions(model_key=model_key, benchmark=benchmark))

    def completions_by_key(self, keys: Sequence[str]) -> list[CompletionRecord]:
        """The stored completions of ``keys`` with their texts, in the order of ``keys`` (missing ones left out)."""
        rows = self._in_chunks(f"SELECT {_C}, t.data FROM completions c JOIN completion_texts t ON t.key = c.key WHERE c.key IN ({{marks}})", list(keys))
        found = {row[0]: row for row in rows}
        return [_record(found[k][:-1], self._text(found[k][-1])) for k in keys if k in found]

    def to_dataframe(self, **filters: Any) -> Any:
        """Completions with scores as a pandas DataFrame (one row per completion and scorer)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows(**filters)))


def _record(row: Sequence[Any], text: str) -> CompletionRecord:
    values = dict(zip(_COMPLETION_COLUMNS, row))
    return CompletionRecord(**values, text=text)


def _filters(model_key: str | None, benchmark: str | None, gen_key: str | None = None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in (("model_key", model_key), ("benchmark", benchmark), ("gen_key", gen_key)):
        if value is not None:
            clauses.append(f"c.{column} = ?")
            params.append(value)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
