"""CoQA: the last turn of each story, SQuAD-style EM/F1 over every reference, through the store."""

from __future__ import annotations

import gzip
import json

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.coqa import CoQA, coqa_em_f1, coqa_item, extract_short_answer, normalize_squad, token_f1
from transferlab.items import Item
from transferlab.pipeline.score import score_store
from transferlab.store import CompletionRecord, ModelInfo, Store


@pytest.fixture(scope="module")
def items(shared_data):
    return get_benchmark("coqa").load(shared_data)


def test_one_item_per_story_about_its_last_turn(items, shared_data):
    assert len(items) == 500 and len({i.id for i in items}) == 500
    with gzip.open(shared_data / "coqa" / "validation.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    assert sum(len(r["questions"]["input_text"]) for r in rows) == 7983
    for item, row in zip(items, rows):
        n = len(row["questions"]["input_text"])
        assert item.meta["turn"] == n and item.fields["questions"] == row["questions"]["input_text"]
        assert item.fields["history"] == row["answers"]["input_text"][: n - 1]
        assert row["answers"]["input_text"][-1] in item.reference
        assert {a.lower() for a in item.reference} == {a.lower() for a in row["all_answers"][-1]}
    first = items[0]
    assert first.fields["questions"][-1] == "Did they want Cotton to change the color of her fur?" and first.reference == ["no"]


def test_hub_rows_use_the_additional_answers():
    row = {
        "id": "s1",
        "story": "S.",
        "questions": {"input_text": ["q1", "q2"]},
        "answers": {"input_text": ["a1", "Blue"]},
        "additional_answers": {"0": {"input_text": ["x", "blue"]}, "1": {"input_text": ["y", "light blue"]}},
    }
    item = coqa_item(row, 0)
    assert item.reference == ["Blue", "light blue"] and item.fields["history"] == ["a1"]


def test_prompts(items):
    coqa = get_benchmark("coqa")
    item = items[0]
    paper = coqa.messages(item, "paper")[0]["content"]
    assert paper.startswith(item.fields["story"] + "\n\nQ: What color was Cotton?\n\nA: white\n\nQ: Where did she live?")
    assert paper.endswith("Q: Did they want Cotton to change the color of her fur?\n\nA:")
    assert coqa.stop("paper") == ("\nQ:",) and coqa.stop("default") == ()
    default = coqa.messages(item)[0]["content"]
    assert "Q: Did they want Cotton to change the color of her fur?\n\nAnswer the last question" in default
    with pytest.raises(Exception, match="no prompt style"):
        coqa.messages(item, "fewshot")


def test_squad_normalisation_and_f1_by_hand():
    assert normalize_squad("The  Cat, sat on a MAT!") == "cat sat on mat"
    assert token_f1("in a barn", "the barn near the farm") == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert token_f1("the", "a") == 1.0 and token_f1("white", "") == 0.0
    assert coqa_em_f1(["white", "orange and white"], "White.") == (1.0, 1.0)
    em, f1 = coqa_em_f1(["a red ball", "blue"], "red")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)  # the max over references, not the first one
    assert coqa_em_f1(["white", "cream"], "white", leave_one_out=True) == (0.5, 0.5)
    assert coqa_em_f1(["white", "white", "cream"], "white", leave_one_out=True) == (1.0, 1.0)


def test_answer_extraction():
    assert extract_short_answer("A: in the barn\nbecause she lived there") == "in the barn"
    assert extract_short_answer("\n They laughed.\nThen more text") == "They laughed."
    assert extract_short_answer("The story says she was white.\n\n**Answer:** **white**") == "white"
    assert extract_short_answer("  \n ") is None


def test_scores_f1_by_default_em_on_request():
    item = Item("s", {}, ["with her mommy and 5 sisters", "her mommy and 5 other sisters"])
    f1 = CoQA().score([item, item], ["her mommy and 5 other sisters", ""], None)
    assert (f1[0].score, f1[0].status) == (1.0, "ok") and (f1[1].score, f1[1].status) == (0.0, "no_answer")
    partial = CoQA().score([item], ["her mommy"], None)[0]
    assert 0 < partial.score < 1 and CoQA(metric="em").score([item], ["her mommy"], None)[0].score == 0.0
    assert CoQA().scorer == "coqa-f1" and CoQA(metric="em", leave_one_out=True).scorer == "coqa-em-loo"


def test_thinking_is_stripped_before_scoring_in_the_store(items, tmp_path):
    texts = {items[0].id: "<think>Maybe yes? The answer is yes.</think>no", items[1].id: "<think>It was never finished"}
    with Store(tmp_path / "s.db") as store:
        model = store.add_model(ModelInfo("m", revision="r"))
        store.add_items("coqa", items[:2])
        hashes = store.add_prompts(["p0", "p1"])
        store.add_completions(
            [
                CompletionRecord(
                    key=f"k{n}",
                    model_key=model,
                    benchmark="coqa",
                    item_id=item.id,
                    prompt_hash=hashes[f"p{n}"],
                    gen_key="g",
                    seed=0,
                    sample_index=0,
                    text=texts[item.id],
                    finish_reason="stop",
                    prompt_tokens=None,
                    completion_tokens=None,
                )
                for n, item in enumerate(items[:2])
            ]
        )
        assert score_store(store, show_progress=False) == 2
        rows = {r["item_id"]: r for r in store.rows()}
    done = rows[items[0].id]
    assert (done["answer"], done["extracted"], done["score"], done["scorer"]) == ("no", "no", 1.0, "coqa-f1")
    unclosed = rows[items[1].id]
    assert (unclosed["score"], unclosed["score_status"], unclosed["thinking_status"]) == (0.0, "truncated_thinking", "unclosed")
