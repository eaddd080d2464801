"""``transferlab merge``: stores of several machines joined into one, idempotently, refusing a model
and benchmark stored under different settings, keeping runs and provenance."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

from conftest import run_cli
from fixtures import store_v1 as v1
from transferlab.pipeline.results import export_rows, results
from transferlab.scoring.thinking import split_thinking
from transferlab.store import CompletionRecord, ModelInfo, ScoreRecord, Store, completion_key

TABLES = ("models", "gen_configs", "prompts", "items", "completions", "completion_texts", "scores", "runs", "studies", "study_models", "merges")


def build(path: Path, model: str, *, temperature: float = 0.7, items: range = range(6), run: str = "run", tag: str = "") -> None:
    """A store as one machine's eval leaves it: ``model`` on math500, k=2, one scorer's verdicts."""
    with Store(path) as s:
        key = s.add_model(ModelInfo(model, "1"))
        gen_key = f"g{temperature}"
        s.add_gen_config(gen_key, {"temperature": temperature, "top_p": 1.0})
        s.add_run(run, key, ["math500"], {"temperature": temperature}, {"python": "3"}, ["transferlab", "eval", "--model", model])
        s.add_items("math500", [_Item(str(i)) for i in items])
        hashes = s.add_prompts([f"question {i}" for i in items])
        records, verdicts = [], []
        for i in items:
            h = hashes[f"question {i}"]
            for k in range(2):
                text = f"<think>\nthinking of {model} about {i}, sample {k}{tag}\n</think>\n\nthe answer is {i * k}"
                ck = completion_key(key, "math500", str(i), h, gen_key, k)
                records.append(CompletionRecord(ck, key, "math500", str(i), h, gen_key, k, k, text, "stop", 5, 20, run))
                parts = split_thinking(text)
                verdicts.append(ScoreRecord(ck, "math", float((i + k) % 2), "ok", str(i * k), parts.thinking, parts.answer, parts.status))
        s.add_completions(records)
        s.put_scores(verdicts)


class _Item:
    def __init__(self, item_id: str) -> None:
        self.id, self.reference, self.meta = item_id, item_id, {}


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(path)) as db:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_merge_joins_machines_idempotently_and_keeps_runs(tmp_path: Path) -> None:
    a, b, into = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.db"
    build(a, "m1", run="run-a")
    build(b, "m2", run="run-b")
    build(b, "m1", items=range(4, 9), run="run-b1")  # m1 again on another machine: items 4-5 overlap with a
    sources = {p: digest(p) for p in (a, b)}

    done = run_cli("merge", str(a), str(b), "--into", str(into))
    assert done.returncode == 0, done.stderr
    assert f"{a}: 12 completions, 12 verdicts, 1 runs added" in done.stderr
    # m1's items 4 and 5 were in a already (the same texts): not added again; b's verdicts on them are newer and replace a's
    assert f"{b}: 18 completions, 22 verdicts, 2 runs added" in done.stderr
    assert {p: digest(p) for p in sources} == sources  # sources are read, never changed
    with Store(into, readonly=True) as s:
        assert s.count_completions() == 30
        assert {r["run_id"] for r in s.runs()} == {"run-a", "run-b", "run-b1"}
        table = {(r.model, r.items, r.samples_per_item) for r in results(s)}
        assert table == {("m1@1", 9, 2), ("m2@1", 6, 2)}
        exported = list(export_rows(s))
        assert all(r["thinking"].startswith("thinking of") and r["answer"].startswith("the answer is") for r in exported)
        merges = s._tuples("SELECT source, completions, scores FROM merges ORDER BY merged")
        assert merges == [(str(a), 12, 12), (str(b), 18, 22)]

    before = dump(into)
    again = run_cli("merge", str(b), str(a), "--into", str(into))
    assert again.returncode == 0, again.stderr
    assert f"{a}: 0 completions, 0 verdicts, 0 runs added" in again.stderr
    assert dump(into) == before  # idempotent: nothing changed, not even provenance


def test_merge_refuses_a_model_and_benchmark_under_other_settings(tmp_path: Path) -> None:
    a, c, into = tmp_path / "a.db", tmp_path / "c.db", tmp_path / "all.db"
    build(a, "m1")
    build(c, "m1", temperature=0.9)
    assert run_cli("merge", str(a), "--into", str(into)).returncode == 0
    before = dump(into)
    refused = run_cli("merge", str(c), "--into", str(into))
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "m1@1 on math500 is stored under other settings" in lines[0] and "temperature: 0.7 vs 0.9" in lines[0]
    assert "--allow-mixed-settings" in lines[0]
    assert dump(into) == before  # nothing merged

    # Two sources that disagree are refused before either is merged.
    fresh = tmp_path / "fresh.db"
    assert run_cli("merge", str(a), str(c), "--into", str(fresh)).returncode == 2
    assert not fresh.exists()  # the store the failed command created is removed again (Store.__exit__)
    # Asked for, both settings are kept apart (two cells).
    assert run_cli("merge", str(c), "--into", str(into), "--allow-mixed-settings").returncode == 0
    with Store(into, readonly=True) as s:
        assert sorted(r.gen_key for r in results(s)) == ["g0.7", "g0.9"]


def test_merge_keeps_the_targets_text_where_a_source_differs_and_reads_old_stores(tmp_path: Path) -> None:
    a, other, old, into = tmp_path / "a.db", tmp_path / "other.db", tmp_path / "old.db", tmp_path / "all.db"
    build(a, "m1")
    build(other, "m1", tag=" (nondeterministic)")  # same keys, other texts: generation is not always deterministic
    with v1.Store(old) as s:  # a store written before issue 22, by that code
        key = s.add_model(v1.ModelInfo("m3", "1"))
        h = s.add_prompts(["question 1"])["question 1"]
        s.add_gen_config("g", {"temperature": 0.7})
        s.add_run("run-old", key, ["math500"], {}, {}, [])
        text = "<think>\nold thinking\n</think>\n\nold answer"
        ck = completion_key(key, "math500", "1", h, "g", 0)
        s.add_completions([v1.CompletionRecord(ck, key, "math500", "1", h, "g", 0, 0, text, "stop", 1, 1, "run-old")])
        s.put_scores([v1.ScoreRecord(ck, "math", 1.0, "ok", "1", "old thinking", "old answer", "closed")])
    old_digest = digest(old)

    done = run_cli("merge", str(a), str(other), str(old), "--into", str(into))
    assert done.returncode == 0, done.stderr
    assert "12 completions with other texts than the target's left as the target had them" in done.stderr
    assert digest(old) == old_digest  # migrated as a copy, never in place
    with Store(into, readonly=True) as s:
        texts = {c.text for c in s.completions(model_key="m1@1")}
        assert len(texts) == 12 and not any("nondeterministic" in t for t in texts)
        (row,) = [r for r in s.rows() if r["model_key"] == "m3@1"]
        assert (row["text"], row["thinking"], row["answer"], row["score"]) == (
            "<think>\nold thinking\n</think>\n\nold answer",
            "old thinking",
            "old answer",
            1.0,
        )
