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


# -- texts: stored once, compressed, read back whole ------------------------------------------------


def real_texts(shared_data, n: int) -> list[str]:
    """``n`` different completions made of real model answers (MATH, Qwen2.5-Math harness)."""
    import json

    with open(shared_data / "math_generations" / "math_cot_100.jsonl") as f:
        answers = [code for line in f for code in json.loads(line)["code"]]
    return [f"<think>\n{answers[i % 800]}\n{answers[(7 * i + 3) % 800]}\n</think>\n\n{answers[(i + 11) % 800][-80:]}" for i in range(n)]


def bench_record(i: int, text: str, benchmark: str = "math500") -> CompletionRecord:
    key = completion_key("m@1", benchmark, str(i), "h", "g", 0)
    return CompletionRecord(key, "m@1", benchmark, str(i), "h", "g", 0, 0, text, "stop", 3, 4)


def test_texts_are_compressed_with_a_dictionary_once_one_pays_and_read_back_whole(tmp_path, shared_data):
    from transferlab.store.texts import TRAIN_AT

    texts = real_texts(shared_data, TRAIN_AT + 200)
    path = tmp_path / "s.db"
    with Store(path) as s:
        s.add_prompts(["p"])
        for start in range(0, len(texts), 64):  # as eval commits them
            s.add_completions([bench_record(i, texts[i]) for i in range(start, min(start + 64, len(texts)))])
        s.add_completions([bench_record(10_000, '{"logprob": [-1.5]}', "mctaco")])
    with closing(sqlite3.connect(path)) as db:
        dicts = db.execute("SELECT dict_id, benchmark FROM dictionaries").fetchall()
        assert [b for _, b in dicts] == ["math500"]
        stored = dict(db.execute("SELECT key, data FROM completion_texts").fetchall())
    import zstandard

    frames = [zstandard.get_frame_parameters(v).dict_id for k, v in stored.items() if isinstance(v, bytes)]
    assert frames.count(0) >= TRAIN_AT and frames.count(dicts[0][0]) >= 150  # plain zstd until the dictionary, then with it
    assert stored[bench_record(10_000, "", "mctaco").key] == '{"logprob": [-1.5]}'  # short: kept as text
    raw = sum(len(t.encode()) for t in texts)
    assert sum(len(v) for v in stored.values()) < raw / 2.5
    with Store(path, readonly=True) as s:  # another process reads them back whole
        assert {c.key: c.text for c in s.completions(benchmark="math500")} == {bench_record(i, "").key: t for i, t in enumerate(texts)}


def test_verdicts_keep_spans_of_the_text_and_give_the_parts_back(tmp_path):
    text = "<think>\n  weighing 2 + 2  \n</think>\n\nIt is 4.  "
    with Store(tmp_path / "s.db") as s:
        s.add_prompts(["p"])
        prompt_hash = s.add_prompts(["p"])["p"]
        rec = CompletionRecord(completion_key("m@1", "b", "1", prompt_hash, "g", 0), "m@1", "b", "1", prompt_hash, "g", 0, 0, text, "stop", 3, 4)
        s.add_completions([rec])
        s.put_scores(
            [
                ScoreRecord(rec.key, "a", 1.0, "ok", "4", "weighing 2 + 2", "It is 4.", "closed"),
                ScoreRecord(rec.key, "b", 0.0, "ok", None, "", "not in the text", "none"),
                ScoreRecord(rec.key, "c", 0.0, "ok"),
            ]
        )
        got = {r["scorer"]: (r["thinking"], r["answer"]) for r in s.rows()}
        assert got == {"a": ("weighing 2 + 2", "It is 4."), "b": ("", "not in the text"), "c": (None, None)}
        stored = s._tuples("SELECT scorer, thinking_start, thinking_end, answer_start, answer_end, thinking, answer FROM scores ORDER BY scorer")
    at, end = text.index("It is 4."), text.index("It is 4.") + len("It is 4.")
    assert stored[0] == ("a", 10, 24, at, end, None, None) and (at, end) == (37, 45)  # offsets, no copies
    assert stored[1] == ("b", 0, 0, None, None, None, "not in the text")


def test_reads_stream_while_another_writer_commits(tmp_path, shared_data):
    """A streamed read (its own connection, one snapshot) neither blocks nor sees a writer's later commits."""
    texts = real_texts(shared_data, 600)
    path = tmp_path / "s.db"
    with Store(path) as s:
        s.add_prompts(["p"])
        s.add_completions([bench_record(i, texts[i]) for i in range(500)])
        stream = s.iter_completions()
        first = next(stream)
        with Store(path) as other:
            assert other.add_completions([bench_record(i, texts[i]) for i in range(500, 600)]) == 100
        assert 1 + sum(1 for _ in stream) == 500 and first.text in texts
        assert s.count_completions() == 600


# -- leases -------------------------------------------------------------------------------------------


def test_leases_split_the_work_and_a_dead_workers_claims_come_back(tmp_path):
    import time

    keys = [record(i).key for i in range(10)]
    with Store(tmp_path / "s.db") as s:
        s.add_completions([record(0)])
        a = s.claim("a", keys, 4, ttl_s=60)
        assert a.stored == {keys[0]} and a.claimed == keys[1:5]
        b = s.claim("b", keys, 4, ttl_s=0.5)
        assert b.claimed == keys[5:9] and b.held_elsewhere == 4 and b.next_expiry is not None
        s.add_completions([record(1), record(2)])  # a stores two: their leases go with them
        assert s.leases() == {"a": 2, "b": 4}
        c = s.claim("c", keys, 10, ttl_s=60)
        assert c.claimed == [keys[9]] and c.held_elsewhere == 6
        time.sleep(0.6)  # b died: its leases expire
        d = s.claim("d", keys, 10, ttl_s=60)
        assert d.claimed == keys[5:9] and d.held_elsewhere == 3
        assert s.renew("a", 60) == 2 and s.release("a") == 2
        assert s.claim("e", keys, 10, ttl_s=60).claimed == keys[3:5]


def test_the_scorer_that_counts_in_a_cell_is_asked_of_the_store(tmp_path):
    """Which scorer's verdicts a cell counts is asked in SQL: the wanted one where it graded
    anything there (within the first k samples when k is given), else the only other one present,
    else none; results, ti and report then read that scorer's verdicts alone."""
    from transferlab.pipeline.results import ScorerChoice, results
    from transferlab.transfer.analysis import read_cell_rows

    def gpqa(item: int, sample: int) -> CompletionRecord:
        key = completion_key("m@1", "gpqa_diamond", str(item), "h", "g", sample)
        return CompletionRecord(key, "m@1", "gpqa_diamond", str(item), "h", "g", 0, sample, "B", "stop", 3, 4)

    records = [gpqa(i, k) for i in range(3) for k in range(3)]
    cell = ("m@1", "gpqa_diamond", "g")
    with Store(tmp_path / "s.db") as s:
        s.add_completions(records)
        s.put_scores([ScoreRecord(r.key, "choice_paper", 1.0, "ok") for r in records])  # the paper's scorer on all nine
        s.put_scores([ScoreRecord(r.key, "choice", 0.0, "ok") for r in records if r.sample_index == 2])  # the default on the third samples
        assert s.has_verdicts(*cell, "choice") and not s.has_verdicts(*cell, "choice", max_samples=2)
        assert not s.has_verdicts("m@1", "gpqa_diamond", "other", "choice")
        assert s.cell_scorer_names(*cell) == {"choice", "choice_paper"} and s.cell_scorer_names(*cell, max_samples=2) == {"choice_paper"}
        default, paper = ScorerChoice(), ScorerChoice(paper_scoring=True)
        assert default.for_cell(s, cell) == "choice" and paper.for_cell(s, cell) == "choice_paper"
        assert default.for_cell(s, cell, max_samples=2) == "choice_paper"  # the default graded none of the first two samples
        (row,) = results(s)
        assert (row.items, row.accuracy, row.unscored) == (3, 0.0, 6)  # the default's three verdicts count, no other's
        assert results(s, paper_scoring=True)[0].accuracy == 100.0
        by_item, rows = read_cell_rows(s, *cell, max_samples=2)
        assert by_item == {str(i): [1.0, 1.0] for i in range(3)} and len(rows) == 6
        s.put_scores([ScoreRecord(r.key, "choice_other", 1.0, "ok") for r in records[:1]])
        assert default.for_cell(s, cell, max_samples=2) is None  # two others, none wanted: no choice


def test_the_claims_of_a_worker_whose_process_is_gone_come_back_at_once(tmp_path):
    """A worker of this machine whose process is gone (exited and reaped, or killed and not yet
    reaped: a zombie) is seen at once, and a new worker releases its leases instead of waiting for
    them to expire; a live process (even another user's), this process, another host and a name
    not written by transferlab are left to their leases."""
    import signal
    import socket
    import subprocess
    import time

    from transferlab.pipeline.share import LeaseKeeper, gone_workers, worker_name

    host = socket.gethostname()
    exited = subprocess.Popen(["true"])
    exited.wait()
    zombie = subprocess.Popen(["sleep", "60"])
    zombie.send_signal(signal.SIGKILL)
    time.sleep(0.2)  # killed, not reaped: a zombie until wait()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        names = {
            "exited": f"{host}:{exited.pid}:run1",
            "zombie": f"{host}:{zombie.pid}:run2",
            "alive": f"{host}:{alive.pid}:run3",
            "init": f"{host}:1:run4",  # exists, another user's where the tests do not run as root
            "me": worker_name("run5"),
            "elsewhere": f"another-{host}:{exited.pid}:run6",
            "odd": "a",
        }
        assert gone_workers(names.values()) == [names["exited"], names["zombie"]]
        keys = [record(i).key for i in range(8)]
        with Store(tmp_path / "s.db") as s:
            s.claim(names["zombie"], keys[:3], 3, ttl_s=3600)
            s.claim(names["alive"], keys[3:6], 3, ttl_s=3600)
            with LeaseKeeper(s, worker_name("new"), ttl_s=60):
                assert s.leases() == {names["alive"]: 3}  # the zombie's three came back on entering
                got = s.claim(worker_name("new"), keys, 8, ttl_s=60)
                assert got.claimed == keys[:3] + keys[6:] and got.held_elsewhere == 3
    finally:
        for proc in (zombie, alive):
            proc.kill()
            proc.wait()
