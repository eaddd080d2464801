"""ACPBench: the real dev and test files, the study's 2-shot chain-of-thought prompt, scoring."""

from __future__ import annotations

from collections import Counter

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.acpbench import TASKS, ACPBench, few_shot_examples
from transferlab.errors import DataError


@pytest.fixture(scope="module")
def mcq(shared_data):
    return ACPBench().load(shared_data)


def test_the_papers_set_is_7_mcq_tasks_times_40_dev_items(mcq, shared_data):
    assert len(mcq) == 280 and len({i.id for i in mcq}) == 280
    assert Counter(i.meta["task"] for i in mcq) == Counter({t: 40 for t in TASKS})
    assert all(i.reference in "ABCD" and i.meta["labels"] == "ABCD" for i in mcq)
    assert get_benchmark("acpbench").load(shared_data, limit=3) == mcq[:3]


@pytest.mark.parametrize(
    ("kind", "split", "size", "golds"), [("bool", "dev", 280, {"yes", "no"}), ("mcq", "test", 900, set("ABCD")), ("bool", "test", 900, {"yes", "no"})]
)
def test_other_kinds_and_splits(shared_data, kind, split, size, golds):
    items = ACPBench(kind=kind, split=split).load(shared_data)
    assert len(items) == size and len({i.id for i in items}) == size
    assert {i.reference for i in items} == golds
    if split == "test":  # 130 per task, areach 120
        assert Counter(i.meta["task"] for i in items)["areach"] == 120


def test_paper_prompt_is_lm_evals_two_shot_cot(mcq):
    item = next(i for i in mcq if i.meta["task"] == "prog")
    (message,) = ACPBench().messages(item, "paper")
    blocks = message["content"].split("\n\n")
    assert len(blocks) == 3 and all(b.startswith("**Question**: ") for b in blocks)
    assert blocks[0].count("**Thoughts**: Let's think step by step.") == 1 and blocks[0].endswith("**Final Answer**: D.")
    assert blocks[2] == f"**Question**: {item.fields['context']}  {item.fields['question']} **Thoughts**:"
    assert ACPBench().stop("paper") == ("\n\n\n\n", "**Question**:", "**Question:**", "Q:")


def test_default_prompt_puts_the_examples_in_turns(mcq):
    item = mcq[0]
    turns = ACPBench().messages(item)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant", "user"]
    shots = few_shot_examples()["mcq"]["app"]
    assert turns[1]["content"] == shots[0]["answer"] and turns[4]["content"].endswith("**Thoughts**:")
    with pytest.raises(DataError, match="no prompt style"):
        ACPBench().messages(item, "fancy")


def test_few_shot_examples_are_complete():
    shots = few_shot_examples()
    for kind in ("mcq", "bool"):
        assert sorted(shots[kind]) == sorted(TASKS) and all(len(v) == 2 for v in shots[kind].values())
    # As lm-eval reads its YAML: single-quoted strings keep their backslashes.
    assert shots["mcq"]["just"][0]["question"].startswith('Given the plan: \\"board the car c0')
    assert shots["bool"]["app"][0]["answer"].endswith("**Final Answer**: No.")


def test_scoring_letters_and_yes_no(mcq, shared_data):
    item = next(i for i in mcq if i.reference == "B")
    answers = ["Step 1: ... **Final Answer**: B.", "<think>B</think> **Final Answer**: C.", "I am not sure.", "<think>**Final Answer**: B."]
    verdicts = ACPBench().score([item] * 4, answers, None)
    assert [(v.score, v.extracted, v.status) for v in verdicts] == [(1.0, "B", "ok"), (0.0, "C", "ok"), (0.0, None, "no_answer"), (0.0, None, "no_answer")]
    yes_item = next(i for i in ACPBench(kind="bool").load(shared_data) if i.reference == "yes")
    verdicts = ACPBench(kind="bool").score([yes_item] * 3, ["**Final Answer**: Yes.", "The answer is no", "\\boxed{yes}"], None)
    assert [v.score for v in verdicts] == [1.0, 0.0, 1.0]


def test_bad_settings_are_data_errors(shared_data):
    with pytest.raises(DataError, match="ACPBench has no kind"):
        ACPBench(kind="gen").load(shared_data)
    with pytest.raises(DataError, match="not found"):
        ACPBench(tasks=("app",)).load(shared_data / "nowhere")
