"""HEAD-QA: the real English test file, log-likelihood and generation modes through the store."""

from __future__ import annotations

import json
import math

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.headqa import HeadQA, HeadQAGen, flatten_exams, loglikelihood_choice
from transferlab.errors import DataError
from transferlab.items import Item
from transferlab.store import Store


@pytest.fixture(scope="module")
def items(shared_data):
    return HeadQA().load(shared_data)


def test_loads_2742_questions(items, shared_data):
    assert len(items) == 2742 and len({i.id for i in items}) == 2742
    assert all(len(i.fields["options"]) == 4 and i.reference in range(4) for i in items)
    first = items[0]
    assert first.id == "Cuaderno_2016_1_B-1" and first.reference == 1  # ra "2" is the second option
    assert first.meta["category"] == "biology" and first.meta["option_chars"] == [len(o) for o in first.fields["options"]]
    assert sorted({i.meta["category"] for i in items}) == ["biology", "chemistry", "medicine", "nursery", "pharmacology", "psychology"]
    assert [i.id for i in HeadQAGen().load(shared_data, limit=3)] == [i.id for i in items[:3]]


def test_requests_and_prompts(items):
    item = items[0]
    requests = HeadQA().loglikelihood_requests(item, "paper")
    assert requests == HeadQA().loglikelihood_requests(item)
    context = f"Question: {item.fields['question']}\nAnswer:"
    assert requests == [(context, " " + o) for o in item.fields["options"]]
    gen = HeadQAGen().messages(item)[0]["content"]
    assert gen.startswith(item.fields["question"]) and "\nA) " in gen and "\nD) " in gen
    assert gen.endswith("(A, B, C or D) within \\boxed{}.")
    with pytest.raises(DataError, match="no prompt style"):
        HeadQA().loglikelihood_requests(item, "fancy")


def test_acc_and_acc_norm_are_computed_by_hand():
    record = {"logprob": [-10.0, -12.0, -30.0, -11.0], "chars": [6, 21, 101, 11], "n_tokens": [2, 5, 20, 3], "is_greedy": [False] * 4}
    # acc: -10 is the largest; acc_norm per character (the joining space not counted):
    # -10/5 = -2.0, -12/20 = -0.6, -30/100 = -0.3, -11/10 = -1.1 -> option 2 (C).
    assert loglikelihood_choice(record, [5, 20, 100, 10]) == (0, 2)
    assert loglikelihood_choice(record) == (0, 2)  # with the stored lengths (space counted) here too
    scored = HeadQA().score([_item(gold=2)], [json.dumps(record)], None)[0]
    assert (scored.score, scored.status) == (0.0, "ok")
    assert json.loads(scored.extracted) == {"acc": "A", "acc_norm": "C", "acc_norm_correct": 1}
    assert HeadQA().score([_item(gold=0)], [json.dumps(record)], None)[0].score == 1.0
    bad = HeadQA().score(
        [_item(gold=0)] * 3,
        ["not json", json.dumps({"logprob": [-1.0], "chars": [1, 2]}), json.dumps({"logprob": [-math.inf, -1, -1, -1], "chars": [1] * 4})],
        None,
    )
    assert [(v.score, v.status) for v in bad] == [(0.0, "error")] * 3


def _item(gold: int) -> Item:
    return Item("x", {}, gold, {"option_chars": [5, 20, 100, 10]})


def test_generation_scoring(items):
    item = next(i for i in items if i.reference == 2)
    verdicts = HeadQAGen().score([item] * 3, ["... so \\boxed{C}", "<think>C</think>Answer: A", "<think>the answer is C"], None)
    assert [(v.score, v.extracted, v.status) for v in verdicts] == [(1.0, "C", "ok"), (0.0, "A", "ok"), (0.0, None, "no_answer")]


def test_the_nested_file_must_be_nested():
    with pytest.raises(DataError, match="exams -> data"):
        flatten_exams({"data": []})


@pytest.mark.slow
def test_both_modes_through_the_store(tiny_model, shared_data, tmp_path):
    from transferlab.backends.hf import HFBackend
    from transferlab.pipeline.generate import run_eval
    from transferlab.pipeline.results import results
    from transferlab.pipeline.score import score_store
    from transferlab.spec import GenerationConfig

    backend = HFBackend(str(tiny_model), batch_size=4)
    benchmarks = [get_benchmark("headqa"), get_benchmark("headqa_gen")]
    with Store(tmp_path / "runs.db") as store:
        summary = run_eval(backend, benchmarks, GenerationConfig(max_new_tokens=8), store, data_dir=shared_data, limit=4, show_progress=False)
        assert (summary.requested, summary.generated) == (8, 8)
        # Nothing is scored twice: the option scores are keyed like completions (sampling settings aside).
        again = run_eval(
            backend, benchmarks[:1], GenerationConfig(max_new_tokens=99, temperature=0.5), store, data_dir=shared_data, limit=4, show_progress=False
        )
        assert (again.reused, again.generated) == (4, 0)
        assert score_store(store, show_progress=False) == 8

        rows = {(r["benchmark"], r["item_id"]): r for r in store.rows()}
        loglik = [r for (b, _), r in rows.items() if b == "headqa"]
        assert len(loglik) == 4 and all(r["scorer"] == "loglikelihood" and r["score_status"] == "ok" for r in loglik)
        for r in loglik:  # the stored option scores decide the verdict
            record = json.loads(r["text"])
            assert len(record["logprob"]) == 4 and all(lp < 0 for lp in record["logprob"])
            reference, meta = store.items("headqa")[r["item_id"]]
            acc, acc_norm = loglikelihood_choice(record, meta["option_chars"])
            assert r["score"] == float(acc == reference)
            assert json.loads(r["extracted"])["acc"] == "ABCD"[acc]
        gen = [r for (b, _), r in rows.items() if b == "headqa_gen"]
        assert len(gen) == 4 and all(r["scorer"] == "choice" and r["score"] in (0.0, 1.0) for r in gen)

        table = {r.benchmark: r for r in results(store)}
        assert table["headqa"].items == 4 and table["headqa"].group == "other" and table["headqa"].unscored == 0
        expected = 100 * sum(r["score"] for r in loglik) / 4
        assert table["headqa"].accuracy == pytest.approx(expected)
        assert table["headqa_gen"].items == 4 and table["headqa_gen"].unscored == 0
