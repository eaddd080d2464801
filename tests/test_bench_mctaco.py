"""MC-TACO: yes/no plausibility per row, by log-likelihood (as the study) and by generation."""

from __future__ import annotations

import json

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.mctaco import MCTaco, extract_yes_no, loglikelihood_verdict, mctaco_items
from transferlab.items import Item
from transferlab.store import Store


@pytest.fixture(scope="module")
def items(shared_data):
    return get_benchmark("mctaco").load(shared_data)


def test_rows_questions_and_labels(items, shared_data):
    assert len(items) == 9442 and [i.id for i in items[:3]] == ["0", "1", "2"]
    assert len({i.meta["question"] for i in items}) == 1332
    assert {i.reference for i in items} == {"yes", "no"} and sum(i.reference == "yes" for i in items) == 3198
    assert {i.meta["category"] for i in items} == {"Event Duration", "Event Ordering", "Frequency", "Stationarity", "Typical Time"}
    first = items[0]
    assert first.fields == {
        "sentence": "Durer's father died in 1502, and his mother died in 1513.",
        "question": "How long was his mother ill?",
        "answer": "she was ill for 30 seconds",
    }
    assert len(MCTaco(split="validation").load(shared_data)) == 3783
    hub_like = mctaco_items([{"sentence": "s", "question": "q", "answer": "a", "label": 1, "category": 0}])
    assert hub_like[0].reference == "yes"


def test_requests_and_prompts(items):
    context = (
        "Durer's father died in 1502, and his mother died in 1513.\nQuestion: How long was his mother ill?\nAnswer: she was ill for 30 seconds\nPlausible:"
    )
    assert get_benchmark("mctaco").loglikelihood_requests(items[0], "paper") == [(context, " no"), (context, " yes")]
    gen = get_benchmark("mctaco_gen")
    assert gen.mode == "generate" and gen.messages(items[0], "paper") == [{"role": "user", "content": context}]
    assert gen.messages(items[0])[0]["content"].endswith('End your reply with "Answer: yes" or "Answer: no".')


@pytest.mark.parametrize(
    "answer, got",
    [
        ("Yes", "yes"),
        ("no.", "no"),
        ("Seconds is far too short.\nAnswer: no", "no"),
        ("Yes or no? Hard to say.", None),
        ("\\boxed{yes}", "yes"),
        ("It could be yes, but the answer is no", "no"),
        ("Not plausible.", None),
    ],
)
def test_yes_no_extraction(answer, got):
    assert extract_yes_no(answer) == got


def test_verdicts():
    yes, no = Item("0", {}, "yes"), Item("1", {}, "no")
    ll = MCTaco()
    stored = json.dumps({"logprob": [-3.0, -1.0], "n_tokens": [1, 1], "is_greedy": [False, True], "chars": [3, 4]})
    assert [(v.score, v.extracted) for v in ll.score([yes, no], [stored, stored], None)] == [(1.0, "yes"), (0.0, "yes")]
    assert loglikelihood_verdict("not json", "yes").status == "error"
    assert loglikelihood_verdict(json.dumps({"logprob": [-1.0]}), "yes").status == "error"
    gen = MCTaco(name="mctaco_gen", mode="generate")
    assert [(v.score, v.status) for v in gen.score([yes, no], ["Answer: yes", "maybe"], None)] == [(1.0, "ok"), (0.0, "no_answer")]
    assert (ll.scorer, gen.scorer) == ("mctaco-ll", "mctaco-yesno")


@pytest.mark.slow
def test_both_modes_through_the_store(tiny_model, shared_data, tmp_path):
    from transferlab.backends.hf import HFBackend
    from transferlab.pipeline.generate import run_eval
    from transferlab.pipeline.results import results
    from transferlab.pipeline.score import score_store
    from transferlab.spec import GenerationConfig

    backend = HFBackend(str(tiny_model), batch_size=4)
    benchmarks = [get_benchmark("mctaco"), get_benchmark("mctaco_gen")]
    config = GenerationConfig(max_new_tokens=6)
    with Store(tmp_path / "runs.db") as store:
        summary = run_eval(backend, benchmarks, config, store, data_dir=shared_data, limit=4, show_progress=False)
        assert (summary.requested, summary.generated) == (8, 8)
        assert run_eval(backend, benchmarks, config, store, data_dir=shared_data, limit=4, show_progress=False).generated == 0
        assert score_store(store, show_progress=False) == 8
        rows = list(store.rows())
        references = store.items("mctaco")
    loglik = [r for r in rows if r["benchmark"] == "mctaco"]
    assert len(loglik) == 4 and all(r["scorer"] == "mctaco-ll" and r["score_status"] == "ok" for r in loglik)
    for r in loglik:  # the stored option scores decide the verdict
        logprob = json.loads(r["text"])["logprob"]
        assert len(logprob) == 2 and all(lp < 0 for lp in logprob)
        pick = "yes" if logprob[1] > logprob[0] else "no"
        assert (r["extracted"], r["score"]) == (pick, float(pick == references[r["item_id"]][0]))
    gen = [r for r in rows if r["benchmark"] == "mctaco_gen"]
    assert len(gen) == 4 and all(r["scorer"] == "mctaco-yesno" and r["score"] in (0.0, 1.0) for r in gen)
    table = {r.benchmark: r for r in results(Store(tmp_path / "runs.db", readonly=True))}
    assert (table["mctaco"].items, table["mctaco"].group, table["mctaco"].unscored) == (4, "non", 0)
    assert table["mctaco"].accuracy == pytest.approx(100 * sum(r["score"] for r in loglik) / 4)
    assert (table["mctaco_gen"].items, table["mctaco_gen"].unscored) == (4, 0)
