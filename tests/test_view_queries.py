"""The viewer's queries on a real store: pages cover every match once, filters and search agree with
the store read by its own API, the scan's time budget continues where it stopped, nothing is written."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from contextlib import closing

import pytest

from test_report import fill_store
from test_store_migrate import real_answers, write_v1_store
from transferlab.pipeline.results import results
from transferlab.store import CompletionRecord, Store, completion_key
from transferlab.view import queries
from transferlab.view.queries import SampleFilter, ViewStore
from transferlab.view.summary import compute_overview

ODD = "odd 100%_off \\ text"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("viewq") / "runs.db"
    store, _ = fill_store(path, n_items=60)
    first = store.completions(benchmark="gsm8k")[0]
    key = completion_key(first.model_key, "gsm8k", first.item_id, first.prompt_hash, first.gen_key, 7)
    store.add_completions([CompletionRecord(key, first.model_key, "gsm8k", first.item_id, first.prompt_hash, first.gen_key, 0, 7, ODD, "stop", 1, 1)])
    store.close()
    return path


def all_pages(vs: ViewStore, f: SampleFilter, **kw) -> list[dict]:
    rows, after = [], 0
    for _ in range(10_000):
        page = vs.samples(f, after=after, **kw)
        rows += page.rows
        if page.next_after is None:
            return rows
        after = page.next_after
    raise AssertionError("the pages never ended")


def test_pages_cover_every_match_once_and_filters_agree(store_path, monkeypatch):
    monkeypatch.setattr(queries, "SCAN_WINDOW", 97)  # many windows, pages that straddle them
    vs = ViewStore(store_path)
    with Store(store_path, readonly=True) as store:
        every = list(store.rows())
    rows = all_pages(vs, SampleFilter(), limit=50)
    assert [r["rowid"] for r in rows] == sorted(r["rowid"] for r in rows)  # insertion order
    assert {r["key"] for r in rows} == {r["key"] for r in every}
    assert len({r["key"] for r in rows}) == len(rows) == len(every)
    model = every[0]["model_key"]
    for verdict, keep in (
        ("right", lambda r: r["score"] is not None and r["score"] > 0.5),
        ("wrong", lambda r: r["score"] is not None and r["score"] <= 0.5),
        ("truncated", lambda r: r["finish_reason"] == "length"),
        ("unscored", lambda r: r["score"] is None),
    ):
        want = {r["key"] for r in every if r["model_key"] == model and r["benchmark"] == "math500" and keep(r)}
        got = all_pages(vs, SampleFilter(model=model, benchmark="math500", verdict=verdict), limit=13)
        assert {r["key"] for r in got} == want and len(got) == len(want), verdict
    total = vs.samples(SampleFilter(model=model, benchmark="math500"), limit=5).total
    assert total == sum(1 for r in every if r["model_key"] == model and r["benchmark"] == "math500")


def test_search_is_a_literal_case_insensitive_substring(store_path):
    vs = ViewStore(store_path)
    assert [r["snippet"] for r in all_pages(vs, SampleFilter(search="100%_OFF \\"))] == [ODD]
    assert all_pages(vs, SampleFilter(search="100x_off")) == []  # _ is not a wildcard
    in_prompt = all_pages(vs, SampleFilter(search="gsm8k 17", benchmark="gsm8k"))  # matches the prompt "gsm8k 17"
    assert in_prompt and {r["item_id"] for r in in_prompt} == {"q17"}


def test_a_scan_out_of_time_continues_where_it_stopped(store_path, monkeypatch):
    monkeypatch.setattr(queries, "SCAN_WINDOW", 50)
    vs = ViewStore(store_path)
    page = vs.samples(SampleFilter(search="no such text anywhere"), budget_s=0.0)
    assert page.partial and page.rows == [] and page.next_after == 50 and page.scanned_to == 50
    rest = all_pages(vs, SampleFilter(search=ODD.upper()), budget_s=0.0)
    assert len(rest) == 1


def test_overview_is_the_librarys_and_the_store_is_untouched(store_path):
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    vs = ViewStore(store_path)
    overview = compute_overview(vs, n_resamples=200)
    with Store(store_path, readonly=True) as store:
        assert list(overview.results) == results(store)
    assert set(overview.studies) == {"synth"} and len(overview.studies["synth"].pairs) == 2
    changes = vs.item_changes("gsm8k", "base@0123456789abcdef", "rl@0123456789abcdef", overview.results[0].gen_key, "math", kind="learned")
    assert changes and all(r["base_mean"] <= 0.5 < r["tuned_mean"] for r in changes)
    vs.close()
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before


def test_drift_folders_old_and_new(tmp_path):
    from transferlab.io import write_json_atomic as write_json
    from transferlab.view.drift import DriftIndex

    summary = {
        "kind": "tokens",
        "base": "b@1",
        "tuned": "t@1",
        "pair": "t-vs-b",
        "benchmark": "gsm8k",
        "settings": {},
        "result": {"urial_shares": {"unshifted": 0.5, "marginal": 0.25, "shifted": 0.25}, "top_shifted_tokens": []},
    }
    write_json(tmp_path / "tokens__t-vs-b__gsm8k.json", summary)
    old = DriftIndex.load(tmp_path)  # written before the per-token rows existed: summaries only, and the page says so
    assert old.summary("t@1", "gsm8k") is not None and old.offsets == {} and old.without_rows == ["tokens__t-vs-b__gsm8k"]
    rows = [{"key": f"k{i}", "item_id": f"q{i}", "tokens": ["a", "b", "c", "d"], "rank_base": [1, 2, 4, 9 + i], "rank_tuned": [1, 1, 1, 1]} for i in range(3)]
    (tmp_path / "tokens__t-vs-b__gsm8k.samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    new = DriftIndex.load(tmp_path)
    assert new.without_rows == [] and set(new.offsets) == {"k0", "k1", "k2"}
    coloured = new.coloured("k2")
    assert [t[1] for t in coloured["tokens"]] == ["unshifted", "marginal", "shifted", "shifted"]
    assert coloured["counts"] == {"unshifted": 1, "marginal": 1, "shifted": 2}
    assert [t["rank_base"] for t in coloured["top"]] == [11, 4] and new.coloured("nope") is None


def test_a_pair_named_on_the_command_line_in_a_store_without_a_study(tmp_path):
    from synthetic_store import fill_store as fill_rates
    from transferlab.errors import DataError
    from transferlab.transfer.from_store import store_analysis
    from transferlab.view.app import create_app

    path = tmp_path / "nostudy.db"
    fill_rates(
        path,
        {"base": {"math500": 40, "gsm8k": 60, "gpqa_diamond": 30, "ifeval": 70}, "tuned": {"math500": 70, "gsm8k": 80, "gpqa_diamond": 40, "ifeval": 55}},
        n_items=40,
    )
    vs = ViewStore(path)
    assert vs.study_pairs() == [] and compute_overview(vs, n_resamples=100).studies == {}  # no study, no pair named: results only
    overview = compute_overview(vs, n_resamples=100, pair=("base", "tuned"))
    shown = overview.studies["tuned against base"]
    with Store(path, readonly=True) as store:
        direct = store_analysis(store, base="base", tuned="tuned", n_resamples=100)
    assert [p.tuned for p in shown.pairs] == ["tuned"] and shown.pairs[0].ti == direct.pairs[0].ti and shown.pairs[0].deltas == direct.pairs[0].deltas
    app = create_app(path, pair=("base", "tuned"), n_resamples=100)
    assert app.state.named_pairs == [
        {"study": "", "tuned": "tuned", "tuned_key": "tuned@0123456789abcdef", "training": "", "base": "base", "base_key": "base@0123456789abcdef"}
    ]
    with pytest.raises(DataError, match="no model 'nobody' in the store"):
        create_app(path, pair=("nobody", "tuned"))
    vs.close()


def test_an_old_store_and_its_migrated_copy_read_alike_and_search_finds_compressed_texts(tmp_path, shared_data):
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    write_v1_store(old, shared_data)
    shutil.copy(old, new)
    Store(new).close()  # a writer migrates the copy to schema 2: texts compressed, verdicts as spans
    with closing(sqlite3.connect(new)) as db:
        assert db.execute("SELECT count(*) FROM completion_texts WHERE typeof(data) = 'blob'").fetchone()[0] > 0
    before = hashlib.sha256(old.read_bytes()).hexdigest()
    with Store(new, readonly=True) as store:
        every = list(store.rows(scorers=[]))
        first = next(r for r in store.rows() if r["scorer"] == "rewritten")  # its answer is not in its text
    needle = real_answers(shared_data)[5][-40:-10].strip()
    want = {r["key"] for r in every if needle.lower() in r["text"].lower() or needle.lower() in r["prompt"].lower()}
    assert want and len(want) < len(every)
    found = {}
    for path in (old, new):
        vs = ViewStore(path)
        rows = all_pages(vs, SampleFilter(search=needle.upper()), limit=7)
        assert {r["key"] for r in rows} == want and len(rows) == len(want), path
        samples = vs.item_samples("math500", first["item_id"])
        found[path] = (
            sorted((r["key"], r["snippet"], r["score"]) for r in all_pages(vs, SampleFilter(benchmark="math500"))),
            sorted((s["key"], s["text"], s["prompt"], [(v["scorer"], v["thinking"], v["answer"], v["score"]) for v in s["verdicts"]]) for s in samples),
        )
        assert {s["key"]: s["text"] for s in samples}[first["key"]] == first["text"]
        vs.close()
    assert found[old] == found[new]
    assert any(v[0] == "rewritten" and v[2] == "an answer the text lacks" for s in found[new][1] for v in s[3])
    assert hashlib.sha256(old.read_bytes()).hexdigest() == before  # the viewer never migrates nor writes
