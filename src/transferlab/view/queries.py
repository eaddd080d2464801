"""Every SQL statement of the viewer, in one place, read-only.

The viewer reads the store through :class:`ViewStore`: the store's public API
(:class:`~transferlab.store.Store` opened read-only) where it has a call, and otherwise the
statements below, on the store's read-only connections (:meth:`Store.reader`: ``mode=ro``,
``PRAGMA query_only``, a version-1 store seen as version 2). Nothing here writes. Texts are stored
compressed (docs/store.md), so they are decoded by :meth:`Store.texts`, only for the rows a page
shows or a search window examines, and a verdict's thinking and answer are cut from the text by
their spans. The pages see only the dicts this module returns.

Long lists are never read whole: samples come a page at a time, scanned in windows of rowids
(``completions`` is append-only, so rowids grow with insertion) under a time budget; a scan that
runs out of time returns what it found and where to continue. Search is a case-insensitive
substring match over the completion text (decoded a window at a time, Python's ``str.lower``) and
its prompt (SQLite ``LIKE``, ASCII case folding), run inside the same bounded scan: no index is
built, so the store stays untouched (see docs/viewer.md for the measured cost).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.pipeline.results import chosen_verdicts, wanted_scorer
from transferlab.store import Store
from transferlab.store.texts import cut

VERDICTS: dict[str, str] = {
    "right": "s.score > 0.5",
    "wrong": "s.score <= 0.5",
    "no_answer": "s.status = 'no_answer'",
    "unclosed": "s.thinking_status = 'unclosed'",
    "truncated": "c.finish_reason = 'length'",
    "timeout": "s.status = 'timeout'",
    "unscored": "s.score IS NULL",
}
"""Verdict filters of the samples page: name -> SQL predicate on the completion ``c`` and its
chosen verdict ``s`` (a sample is right when its score is above one half)."""

SCAN_WINDOW = 4000  # completions' rowids examined per statement of a bounded scan
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class SampleFilter:
    """What the samples page asks for (every field optional)."""

    model: str = ""
    benchmark: str = ""
    gen_key: str = ""
    verdict: str = ""
    scorer: str = ""
    search: str = ""
    item: str = ""


@dataclass(frozen=True)
class SamplePage:
    """One page of samples. ``next_after``: the rowid to continue after (None at the end);
    ``scanned_to``/``last_rowid``: how far the scan got; ``partial``: it stopped on its time budget."""

    rows: list[dict[str, Any]]
    next_after: int | None
    scanned_to: int
    last_rowid: int
    partial: bool
    seconds: float
    total: int | None = None


@dataclass
class Facets:
    """The values the filters offer, read once per store state."""

    models: list[dict[str, Any]] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=list)
    gen_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    scorers: dict[str, list[str]] = field(default_factory=dict)  # benchmark -> scorers present
    default_scorer: dict[str, str] = field(default_factory=dict)  # benchmark -> the scorer that counts


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (``\\`` escapes %, _ and itself)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ViewStore:
    """Read-only queries over one store, safe to call from several threads (a connection each)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self.store = Store(self.path, readonly=True)  # the public API; raises StoreError when absent or not a store
        self.definitions = self.store.benchmark_definitions()  # benchmarks of your own: their scorer and group
        self._local = threading.local()
        self._facets: tuple[tuple[Any, ...], Facets] | None = None
        self._lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.store.reader()  # read-only, query_only; raises StoreError
            conn.execute("PRAGMA cache_size = -8000")  # KiB: 8 MB of pages per connection
            self._local.conn = conn
        return conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self._conn().execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def close(self) -> None:
        """Close the public-API handle (per-thread connections close with their threads)."""
        self.store.close()

    # -- store state ---------------------------------------------------------------------------
    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever completions, verdicts or studies are added (each read is O(1))."""
        row = self._rows(
            "SELECT (SELECT max(rowid) FROM completions) AS c, (SELECT max(rowid) FROM scores) AS s, (SELECT count(*) FROM study_models) AS m"
            if self._has("study_models")
            else "SELECT (SELECT max(rowid) FROM completions) AS c, (SELECT max(rowid) FROM scores) AS s, 0 AS m"
        )[0]
        return (row["c"] or 0, row["s"] or 0, row["m"] or 0)

    def _has(self, table: str) -> bool:
        return bool(self._rows("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)))

    def last_rowid(self) -> int:
        """The largest rowid of ``completions`` (0 for an empty store)."""
        return int(self._rows("SELECT coalesce(max(rowid), 0) AS n FROM completions")[0]["n"])

    def facets(self) -> Facets:
        """Models, benchmarks, settings and scorers present (cached until the store changes)."""
        key = self.fingerprint()
        with self._lock:
            if self._facets is not None and self._facets[0] == key:
                return self._facets[1]
        f = Facets(models=self.store.models())
        f.benchmarks = [r["benchmark"] for r in self._rows("SELECT DISTINCT benchmark FROM completions ORDER BY benchmark")]
        for r in self._rows("SELECT gen_key, settings FROM gen_configs"):
            f.gen_keys[r["gen_key"]] = json.loads(r["settings"])
        for r in self._rows("SELECT DISTINCT c.benchmark, s.scorer FROM scores s JOIN completions c ON c.key = s.completion_key ORDER BY 1, 2"):
            f.scorers.setdefault(r["benchmark"], []).append(r["scorer"])
        for bench, present in f.scorers.items():
            wanted = wanted_scorer(bench, definitions=self.definitions)
            f.default_scorer[bench] = wanted if wanted in present else present[0]
        with self._lock:
            self._facets = (key, f)
        return f

    def cells(self) -> list[dict[str, Any]]:
        """Every (model key, benchmark, settings key) with its number of completions."""
        return self._rows("SELECT model_key, benchmark, gen_key, count(*) AS n FROM completions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")

    def cell_rows(self, model_key: str, benchmark: str, gen_key: str) -> list[dict[str, Any]]:
        """One row per completion of a cell with the verdict that counts (no texts), ready for
        :func:`transferlab.pipeline.results.cell_result`."""
        rows = self._rows(
            "SELECT c.key, c.item_id, c.sample_index, c.finish_reason, c.completion_tokens, "
            "s.scorer, s.score, s.status AS score_status, s.thinking_status, json_extract(s.details, '$.thinking_parser') AS thinking_parser "
            "FROM completions c LEFT JOIN scores s ON s.completion_key = c.key "
            "WHERE c.model_key = ? AND c.benchmark = ? AND c.gen_key = ?",
            (model_key, benchmark, gen_key),
        )
        for r in rows:  # of the verdict's details, only what the results table reads
            r["details"] = {"thinking_parser": r.pop("thinking_parser")}
        return chosen_verdicts(benchmark, rows, definitions=self.definitions)

    def studies(self) -> dict[str, dict[str, Any]]:
        """Recorded study specs by name (the public API)."""
        return self.store.studies()

    def study_pairs(self) -> list[dict[str, Any]]:
        """Every recorded (tuned, base) pair: study, names, model keys, training method."""
        if not self._has("study_models"):
            return []
        return self._rows(
            "SELECT t.study, t.name AS tuned, t.model_key AS tuned_key, t.training, b.name AS base, b.model_key AS base_key "
            "FROM study_models t JOIN study_models b ON b.study = t.study AND b.name = t.base ORDER BY t.study, t.name"
        )

    def study_names(self) -> dict[str, str]:
        """``{model key: study model name}`` of every recorded study model."""
        if not self._has("study_models"):
            return {}
        return {r["model_key"]: r["name"] for r in self._rows("SELECT model_key, name FROM study_models ORDER BY updated")}

    # -- samples -------------------------------------------------------------------------------
    def _scorer_join(self, f: SampleFilter, facets: Facets) -> tuple[str, str, list[Any]]:
        """(CTE, JOIN clause, params) attaching the chosen verdict ``s`` to each completion ``c``."""
        if f.scorer:
            return "", "LEFT JOIN scores s ON s.completion_key = c.key AND s.scorer = ?", [f.scorer]
        pairs = sorted(facets.default_scorer.items())
        if not pairs:
            return "", "LEFT JOIN scores s ON 0", []
        cte = "WITH chosen(benchmark, scorer) AS (VALUES " + ",".join("(?, ?)" for _ in pairs) + ") "
        join = "LEFT JOIN chosen d ON d.benchmark = c.benchmark LEFT JOIN scores s ON s.completion_key = c.key AND s.scorer = d.scorer"
        return cte, join, [v for p in pairs for v in p]

    def _where(self, f: SampleFilter) -> tuple[list[str], list[Any]]:
        clauses, params = [], []
        for column, value in (("c.model_key", f.model), ("c.benchmark", f.benchmark), ("c.gen_key", f.gen_key), ("c.item_id", f.item)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if f.verdict:
            if f.verdict not in VERDICTS:
                raise ValueError(f"unknown verdict {f.verdict!r}")
            clauses.append(VERDICTS[f.verdict])
        return clauses, params

    def count_samples(self, f: SampleFilter) -> int | None:
        """How many completions match, where that is cheap (no verdict or search filter); else None."""
        if f.verdict or f.search:
            return None
        clauses, params = self._where(f)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return int(self._rows(f"SELECT count(*) AS n FROM completions c {where}", params)[0]["n"])

    def samples(self, f: SampleFilter, *, after: int = 0, limit: int = 50, budget_s: float = 2.0) -> SamplePage:
        """The next ``limit`` matching samples after rowid ``after``, in insertion order.

        Scans rowid windows of :data:`SCAN_WINDOW` until the page is full, the store ends or
        ``budget_s`` seconds have passed (then ``partial`` and ``next_after`` continue the scan).
        A search decodes the texts of a window's candidates (those its other filters keep) and
        matches them in Python; the prompt is matched in SQL.
        """
        facets = self.facets()
        cte, join, join_params = self._scorer_join(f, facets)
        clauses, params = self._where(f)
        prompt_hit, hit_params = ("0", [])
        if f.search:
            prompt_hit, hit_params = "c.prompt_hash IN (SELECT prompt_hash FROM prompts WHERE text LIKE ? ESCAPE '\\')", [_like(f.search)]
        last = self.last_rowid()
        started = time.monotonic()
        rows: list[dict[str, Any]] = []
        pos = after
        while pos < last and len(rows) < limit:
            hi = pos + SCAN_WINDOW
            where = " AND ".join([*clauses, "c.rowid > ?", "c.rowid <= ?"])
            sql = (
                f"{cte}SELECT c.rowid AS rowid, c.key, c.model_key, c.benchmark, c.item_id, c.gen_key, c.sample_index, "
                f"c.finish_reason, c.completion_tokens, s.scorer, s.score, s.status AS score_status, s.extracted, "
                f"s.thinking_status, s.answer, s.answer_start, s.answer_end, {prompt_hit} AS prompt_hit "
                f"FROM completions c {join} WHERE {where} ORDER BY c.rowid" + ("" if f.search else " LIMIT ?")
            )
            found = self._rows(sql, [*join_params, *hit_params, *params, pos, hi, *([] if f.search else [limit - len(rows)])])
            if f.search:
                found = self._matching(found, f.search)[: limit - len(rows)]
            rows += found
            pos = rows[-1]["rowid"] if len(rows) >= limit else hi
            if len(rows) < limit and time.monotonic() - started > budget_s:
                seconds = time.monotonic() - started
                return SamplePage(self._snippets(rows), pos if pos < last else None, min(pos, last), last, True, seconds)
        seconds = time.monotonic() - started
        more = pos < last
        return SamplePage(self._snippets(rows), pos if more else None, min(pos, last), last, False, seconds, self.count_samples(f))

    def _matching(self, candidates: list[dict[str, Any]], search: str) -> list[dict[str, Any]]:
        """The candidates whose prompt matched, or whose text holds ``search`` (case-insensitive)."""
        needle = search.lower()
        texts = self.store.texts(c["key"] for c in candidates if not c["prompt_hit"])
        return [c for c in candidates if c["prompt_hit"] or needle in texts.get(c["key"], "").lower()]

    def _snippets(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each row with ``snippet``: the start of its verdict's answer, else of its text."""
        texts = self.store.texts(r["key"] for r in rows)
        for r in rows:
            text = texts.get(r["key"])
            answer = cut(text, r.pop("answer_start"), r.pop("answer_end"), r.pop("answer"))
            r.pop("prompt_hit")
            r["snippet"] = (answer if answer is not None else text or "")[:SNIPPET_CHARS]
        return rows

    # -- one item ------------------------------------------------------------------------------
    def item(self, benchmark: str, item_id: str) -> dict[str, Any] | None:
        """The item's reference (decoded JSON) and metadata, or None when not stored."""
        rows = self._rows("SELECT reference, meta FROM items WHERE benchmark = ? AND item_id = ?", (benchmark, item_id))
        if not rows:
            return None
        return {"reference": json.loads(rows[0]["reference"]), "meta": json.loads(rows[0]["meta"])}

    def item_samples(self, benchmark: str, item_id: str, *, per_model: int = 20) -> list[dict[str, Any]]:
        """Every model's samples of one item (at most ``per_model`` per model and settings), each
        with its prompt, raw text, and ``verdicts``: every scorer's verdict (thinking and answer split)."""
        completions = self._rows(
            "SELECT c.rowid AS rowid, c.key, c.model_key, c.gen_key, c.sample_index, c.seed, c.finish_reason, "
            "c.prompt_tokens, c.completion_tokens, c.prompt_hash, p.text AS prompt "
            "FROM completions c JOIN prompts p ON p.prompt_hash = c.prompt_hash "
            "WHERE c.model_key IN (SELECT model_key FROM models) AND c.benchmark = ? AND c.item_id = ? "
            "ORDER BY c.model_key, c.gen_key, c.sample_index",
            (benchmark, item_id),
        )
        kept: list[dict[str, Any]] = []
        seen: dict[tuple[str, str], int] = {}
        for c in completions:
            n = seen.get((c["model_key"], c["gen_key"]), 0)
            if n < per_model:
                seen[(c["model_key"], c["gen_key"])] = n + 1
                kept.append(c)
        texts = self.store.texts(c["key"] for c in kept)
        for c in kept:
            c["text"] = texts.get(c["key"], "")
        verdicts = self.verdicts([c["key"] for c in kept], texts)
        for c in kept:
            c["verdicts"] = verdicts.get(c["key"], [])
        return kept

    def verdicts(self, keys: Sequence[str], texts: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every scorer's verdict of each completion, by completion key (scorer order), its thinking
        and answer cut from the completion's text (``texts``: those already decoded, by key)."""
        texts = dict(texts or {})
        missing = [k for k in keys if k not in texts]
        if missing:
            texts.update(self.store.texts(missing))
        out: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for r in self._rows(
                f"SELECT completion_key, scorer, score, status, extracted, thinking, answer, thinking_status, details, "
                f"thinking_start, thinking_end, answer_start, answer_end FROM scores WHERE completion_key IN ({marks}) ORDER BY scorer",
                chunk,
            ):
                text = texts.get(r["completion_key"])
                r["thinking"] = cut(text, r.pop("thinking_start"), r.pop("thinking_end"), r["thinking"])
                r["answer"] = cut(text, r.pop("answer_start"), r.pop("answer_end"), r["answer"])
                r["details"] = json.loads(r["details"]) if r["details"] else None
                out.setdefault(r.pop("completion_key"), []).append(r)
        return out

    # -- what changed between a base and a tuned model --------------------------------------------
    def item_changes(
        self, benchmark: str, base: str, tuned: str, gen_key: str, scorer: str, *, kind: str, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Items the base got right and the tuned model wrong (``kind="forgot"``) or the reverse
        (``"learned"``): right means a mean score above one half over the item's samples."""
        if kind not in ("forgot", "learned"):
            raise ValueError(f"unknown kind {kind!r}")
        cond = "b.mean > 0.5 AND t.mean <= 0.5" if kind == "forgot" else "b.mean <= 0.5 AND t.mean > 0.5"
        per_item = (
            "SELECT c.item_id, avg(s.score) AS mean, count(*) AS n FROM completions c "
            "JOIN scores s ON s.completion_key = c.key AND s.scorer = ? "
            "WHERE c.model_key = ? AND c.benchmark = ? AND c.gen_key = ? GROUP BY c.item_id"
        )
        sql = (
            f"WITH b AS ({per_item}), t AS ({per_item}) "
            f"SELECT b.item_id, b.mean AS base_mean, b.n AS base_n, t.mean AS tuned_mean, t.n AS tuned_n "
            f"FROM b JOIN t ON t.item_id = b.item_id WHERE {cond} ORDER BY b.item_id LIMIT ? OFFSET ?"
        )
        return self._rows(sql, [scorer, base, benchmark, gen_key, scorer, tuned, benchmark, gen_key, limit, offset])

    def shared_gen_keys(self, benchmark: str, base: str, tuned: str) -> list[str]:
        """Settings keys under which both models have completions of ``benchmark``."""
        rows = self._rows(
            "SELECT DISTINCT gen_key FROM completions WHERE model_key = ? AND benchmark = ? "
            "INTERSECT SELECT DISTINCT gen_key FROM completions WHERE model_key = ? AND benchmark = ? ORDER BY 1",
            (base, benchmark, tuned, benchmark),
        )
        return [r["gen_key"] for r in rows]
