"""Stores written before issue 22 (schema version 1), by the code that wrote them
(tests/fixtures/store_v1.py, a verbatim copy of that store.py): read-only readers read them as they
are; a writer migrates them in place, in one transaction, after a check, and every reading gives the
same answers before and after."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from fixtures import store_v1 as v1
from transferlab.benchmarks import REGISTRY
from transferlab.cli import main
from transferlab.errors import StoreError
from transferlab.pipeline.results import export_rows, results
from transferlab.scoring.thinking import split_thinking
from transferlab.store import SCHEMA_VERSION, Store, completion_key
from transferlab.store.migrate import migrate_v1
from transferlab.store.texts import TRAIN_AT, Codec


def real_answers(shared_data: Path) -> list[str]:
    with open(shared_data / "math_generations" / "math_cot_100.jsonl") as f:
        return [code for line in f for code in json.loads(line)["code"]]


def write_v1_store(path: Path, shared_data: Path) -> None:
    """A version-1 store as eval and score wrote it: real MATH-500 items, real model answers wrapped in
    thinking (some cut off), verdicts of two scorers holding copies of thinking and answer, token
    ids, a study and runs; plus one verdict whose answer is not in its text and one whose completion
    is missing."""
    answers = real_answers(shared_data)
    items = REGISTRY["math500"].load(shared_data, 200)
    with v1.Store(path) as s:
        model = s.add_model(v1.ModelInfo("tiny", "r1", info={"params": 7}))
        s.add_items("math500", items)
        hashes = s.add_prompts([f"Solve: {i.fields['question']}" for i in items])
        s.add_gen_config("g", {"temperature": 0.7})
        s.add_run("run1", model, ["math500"], {"samples": 2}, {"python": "3"}, ["transferlab", "eval"])
        s.record_study("tiny", {"name": "tiny", "models": [{"name": "tiny", "path": "x"}], "benchmarks": ["math500"]})
        s.record_study_model("tiny", "tiny", model, source="x", training="base", base=None)
        records, verdicts = [], []
        for n, item in enumerate(items):
            h = hashes[f"Solve: {item.fields['question']}"]
            for k in range(2):
                body = answers[(2 * n + k) % len(answers)]
                cut = (2 * n + k) % 17 == 0
                text = f"<think>\nLet me think about {item.id}.\n{body}" + ("" if cut else f"\n</think>\n\nThe answer is {body[-60:]}")
                key = completion_key(model, "math500", item.id, h, "g", k)
                ids = tuple(range(k, 40 + k)) if n % 5 == 0 else None
                records.append(
                    v1.CompletionRecord(key, model, "math500", item.id, h, "g", 7, k, text, "length" if cut else "stop", 30, 400, "run1", token_ids=ids)
                )
                parts = split_thinking(text, "think")
                for scorer in ("math", "math_qwen25") if k == 0 else ("math",):
                    score = float((n + k + len(scorer)) % 3 == 0)
                    status = "truncated_thinking" if cut else "ok"
                    details = {"finish_reason": "stop", "thinking_parser": "think"}
                    verdicts.append(v1.ScoreRecord(key, scorer, score, status, "42", parts.thinking, parts.answer, parts.status, details))
        s.add_completions(records)
        s.put_scores(verdicts)
        first = records[0].key
        s.put_scores([v1.ScoreRecord(first, "rewritten", 1.0, "ok", "4", "no such thinking", "an answer the text lacks", "closed", None)])
        s.put_scores([v1.ScoreRecord("0" * 32, "math", 0.0, "ok", None, "lost", "verdict", "closed", None)])


def everything(store: Store) -> dict[str, object]:
    """Every reading a user or a command makes of a store."""
    completions = store.completions()
    return {
        "results": [r.to_dict() for r in results(store)],
        "export": list(export_rows(store)),
        "export_all": list(export_rows(store, all_scorers=True)),
        "rows": list(store.rows()),
        "completions": completions,
        "token_ids": store.token_ids(c.key for c in completions),
        "studies": store.studies(),
        "study_models": store.study_model_keys("tiny"),
        "runs": store.runs(),
        "models": store.models(),
        "items": store.items("math500"),
        "gen": store.gen_settings("g"),
        "scored": store.scored_keys("math_qwen25"),
    }


def version_of(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def old_store(tmp_path: Path, shared_data: Path) -> Path:
    path = tmp_path / "old.db"
    write_v1_store(path, shared_data)
    assert version_of(path) == 1 and SCHEMA_VERSION == 2
    return path


def test_read_only_readers_read_an_old_store_without_changing_it(old_store: Path) -> None:
    before = digest(old_store)
    with Store(old_store, readonly=True) as s:
        seen = everything(s)
        assert s.migrated_from is None
    assert digest(old_store) == before and version_of(old_store) == 1  # not migrated, not touched
    assert len(seen["completions"]) == 400 and len(seen["token_ids"]) == 80
    assert seen["export"][0]["thinking"].startswith("Let me think about") and seen["export"][0]["scorer"] == "math"
    rewritten = [r for r in seen["rows"] if r["scorer"] == "rewritten"]
    assert [(r["thinking"], r["answer"]) for r in rewritten] == [("no such thinking", "an answer the text lacks")]
    # The commands that only read work too, in their own processes' way: through the CLI.
    assert main(["results", "--store", str(old_store), "--json"]) == 0
    assert digest(old_store) == before


def test_a_writer_migrates_in_place_and_every_reading_is_unchanged(old_store: Path, tmp_path: Path) -> None:
    with Store(old_store, readonly=True) as s:
        before = everything(s)
    size_before = old_store.stat().st_size
    with Store(old_store) as s:
        assert s.migrated_from == 1
        after = everything(s)
    assert version_of(old_store) == 2
    assert after == before
    with closing(sqlite3.connect(old_store)) as db:
        assert "text" not in {r[1] for r in db.execute("PRAGMA table_info(completions)")}
        kinds = dict(db.execute("SELECT typeof(data), count(*) FROM completion_texts GROUP BY 1").fetchall())
        assert kinds == {"blob": 400}  # every text compressed, once
        # Verdicts keep spans of the text, not copies; text only where it is not part of the text.
        copies = db.execute("SELECT count(*) FROM scores WHERE thinking IS NOT NULL OR answer IS NOT NULL").fetchone()[0]
        spans = db.execute("SELECT count(*) FROM scores WHERE thinking_start IS NOT NULL AND answer_start IS NOT NULL").fetchone()[0]
        assert (copies, spans) == (2, 600)  # the rewritten verdict and the one whose completion is missing
        assert db.execute("SELECT scorer, answer FROM scores WHERE completion_key = ?", ("0" * 32,)).fetchone() == ("math", "verdict")
        dictionaries = db.execute("SELECT benchmark, length(data) FROM dictionaries").fetchall()
    assert 400 >= TRAIN_AT and [b for b, _ in dictionaries] == ["math500"]  # short real answers: a dictionary pays
    # Opening again migrates nothing; `transferlab migrate` compacts the file.
    with Store(old_store) as s:
        assert s.migrated_from is None and everything(s) == before
    assert main(["migrate", str(old_store)]) == 0
    assert old_store.stat().st_size < size_before / 2
    with Store(old_store, readonly=True) as s:
        assert everything(s) == before


def test_a_store_that_fails_the_check_is_not_migrated(old_store: Path) -> None:
    with closing(sqlite3.connect(old_store)) as db, db:
        db.execute("ALTER TABLE scores DROP COLUMN answer")  # as no transferlab ever wrote it
    before = digest(old_store)
    with pytest.raises(StoreError, match="lacks answer; it was not migrated"):
        Store(old_store)
    assert digest(old_store) == before and version_of(old_store) == 1


def test_a_migration_that_fails_half_way_leaves_the_old_store_whole(old_store: Path) -> None:
    """The disk fills up in the middle of the migration (SQLite's own SQLITE_FULL): the one
    transaction rolls back and the store reads as before, still version 1."""
    with Store(old_store, readonly=True) as s:
        before = everything(s)
    with closing(sqlite3.connect(old_store, isolation_level=None)) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 8}")
        db.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="full"):
            migrate_v1(db, Codec(), str(old_store))
        db.execute("ROLLBACK")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert version_of(old_store) == 1
    with Store(old_store, readonly=True) as s:
        assert everything(s) == before
