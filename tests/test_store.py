import sqlite3
import threading
from contextlib import closing

import pytest

from transferlab.errors import StoreError
from transferlab.store import SCHEMA_VERSION, CompletionRecord, ModelInfo, ScoreRecord, Store, completion_key


def record(i: int, text: str = "t") -> CompletionRecord:
    key = completion_key("m@1", "gsm8k", str(i), "h", "g", 0)
    return CompletionRecord(key, "m@1", "gsm8k", str(i), "h", "g", 0, 0, text, "stop", 3, 4)


def test_completions_are_kept_once(tmp_path):
    with Store(tmp_path / "s.db") as s:
        s.add_model(ModelInfo("m", "1"))
        assert s.add_completions([record(1), record(2)]) == 2
        assert s.add_completions([record(1, "other"), record(3)]) == 1
        assert [c.text for c in s.completions()] == ["t", "t", "t"]
    with Store(tmp_path / "s.db", readonly=True) as s:  # survives reopening
        assert s.count_completions() == 3
        assert s.existing_keys([record(1).key, "nope"]) == {record(1).key}


def test_generated_token_ids_are_kept_beside_the_text(tmp_path):
    from dataclasses import replace

    big = [0, 1, 49151, 151_645, 2**32 - 1]  # a Qwen-sized vocabulary fits in 4 bytes a token
    with Store(tmp_path / "s.db") as s:
        assert s.add_completions([replace(record(1), token_ids=tuple(big)), record(2)]) == 2
        assert s.add_completions([replace(record(1), token_ids=(7,))]) == 0  # kept once, not rewritten
        assert s.token_ids([record(1).key, record(2).key, "nope"]) == {record(1).key: big}
        assert s.token_ids([]) == {}

    # A store written before the ids were kept: read-only, it answers "none"; opened for writing,
    # it gains the table and keeps its completions.
    old = tmp_path / "old.db"
    with Store(old) as s:
        s.add_completions([record(1)])
    with closing(sqlite3.connect(old)) as db, db:  # outside the store: as an older version left it
        db.execute("DROP TABLE completion_ids")
    with Store(old, readonly=True) as s:
        assert s.token_ids([record(1).key]) == {} and s.count_completions() == 1
    with Store(old) as s:
        s.add_completions([replace(record(2), token_ids=(5, 6))])
        assert s.token_ids([record(1).key, record(2).key]) == {record(2).key: [5, 6]} and s.count_completions() == 2


def test_scores_are_replaced_not_duplicated(tmp_path):
    with Store(tmp_path / "s.db") as s:
        s.add_prompts(["p"])
        s.add_completions([record(1)])
        prompt_hash = list(s.add_prompts(["p"]).values())[0]
    with closing(sqlite3.connect(tmp_path / "s.db")) as db, db:
        db.execute("UPDATE completions SET prompt_hash = ?", (prompt_hash,))
    with Store(tmp_path / "s.db") as s:
        s.put_scores([ScoreRecord(record(1).key, "math", 0.0, "ok")])
        s.put_scores([ScoreRecord(record(1).key, "math", 1.0, "ok", extracted="4")])
        rows = list(s.rows())
        assert len(rows) == 1 and rows[0]["score"] == 1.0 and rows[0]["extracted"] == "4"


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as s:
        s.add_completions([record(1)])
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer than this transferlab"):
        Store(path)
    assert path.read_bytes() == before


def test_not_a_store(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StoreError, match="not a transferlab store"):
        Store(junk)
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a transferlab store"):
        Store(other)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing-folder" / "s.db")


def test_full_disk_is_one_clear_error_and_nothing_is_lost(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as s:
        s.add_completions([record(i) for i in range(20)])
        pages = s._db.execute("PRAGMA page_count").fetchone()[0]
        s._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLite's own 'disk full' (SQLITE_FULL)
        with pytest.raises(StoreError, match="disk is full"):
            s.add_completions([record(100 + i, "x" * 5000) for i in range(50)])
    with Store(path) as s:
        assert s.count_completions() == 20
        assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_many_threads_write_safely(tmp_path):
    with Store(tmp_path / "s.db") as s:

        def work(offset: int) -> None:
            for i in range(50):
                s.add_completions([record(offset + i)])

        threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.count_completions() == 200
