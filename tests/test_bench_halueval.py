"""HaluEval: the *_samples form built from the raw files, the judge prompt, the verdict rules."""

from __future__ import annotations

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.halueval import HaluEval, build_samples, judgement, paper_first_line, sole_yes_no
from transferlab.io import read_jsonl
from transferlab.items import Item


@pytest.fixture(scope="module")
def items(shared_data):
    return get_benchmark("halueval").load(shared_data)


@pytest.fixture(scope="module")
def raw_qa(shared_data):
    return list(read_jsonl(shared_data / "halueval" / "qa_data.jsonl.gz"))


def test_samples_are_built_from_the_raw_files_deterministically(items, raw_qa, shared_data):
    assert len(items) == 30_000 and len({i.id for i in items}) == 30_000
    for task in ("qa", "dialogue", "summarization"):
        labels = [i.reference for i in items if i.meta["task"] == task]
        assert len(labels) == 10_000 and 4_800 < labels.count("yes") < 5_200
    samples = build_samples("qa", raw_qa, seed=0)
    assert samples == build_samples("qa", raw_qa, seed=0) and samples != build_samples("qa", raw_qa, seed=1)
    for sample, row, item in zip(samples[:200], raw_qa, items[:200]):
        key = "hallucinated_answer" if sample["hallucination"] == "yes" else "right_answer"
        assert sample["answer"] == row[key] and sample["knowledge"] == row["knowledge"]
        assert (item.reference, item.fields["answer"]) == (sample["hallucination"], sample["answer"])
    assert [i.reference for i in HaluEval(seed=1, tasks=("qa",)).load(shared_data, limit=50)] == [
        s["hallucination"] for s in build_samples("qa", raw_qa, 1)[:50]
    ]


def test_the_papers_judge_prompt(items):
    halueval = get_benchmark("halueval")
    qa = next(i for i in items if i.meta["task"] == "qa")
    text = halueval.messages(qa, "paper")[0]["content"]
    assert text.startswith("I want you act as an answer judge.") and 'The answer you give MUST be "Yes" or "No"".' in text
    assert text.endswith(f"\n\n#Knowledge: {qa.fields['knowledge']}\n#Question#: {qa.fields['question']}\n#Answer#: {qa.fields['answer']}\n#Your Judgement#:")
    dialogue = next(i for i in items if i.meta["task"] == "dialogue")
    text = halueval.messages(dialogue, "paper")[0]["content"]
    assert text.startswith("I want you act as a response judge.") and text.endswith(
        f"#Dialogue History#: {dialogue.fields['dialogue_history']}\n#Response#: {dialogue.fields['response']}\n#Your Judgement#:"
    )
    summary = next(i for i in items if i.meta["task"] == "summarization")
    text = halueval.messages(summary, "paper")[0]["content"]
    assert text.startswith("I want you act as a summary judge.") and text.endswith(
        f"\n\n#Document#: {summary.fields['document']}\n#Summary#: {summary.fields['summary']}\n#Your Judgement#:"
    )
    default = halueval.messages(summary)[0]["content"]
    assert (
        default.endswith('exactly "#Your Judgement#: Yes" or "#Your Judgement#: No".')
        and f"#Summary#: {summary.fields['summary'].rstrip()}\n\nGive your judgement" in default
    )


@pytest.mark.parametrize(
    "answer, verdict",
    [
        ("No", "no"),
        ("Yes, it is hallucinated.", "yes"),
        ("yes. YES!", "yes"),
        ("Yes or no? I would say no.", None),  # both words: no verdict
        ("I cannot tell.", None),
        ("Nothing is wrong, it is not invented.", None),  # "Nothing"/"not" are not the word "no"
        ("Is it yes or no? Both seem possible...\n#Your Judgement#: Yes", "yes"),  # the judgement line decides
        ("Reasoning about yes and no.\n**Judgment:** No", "no"),
        ("yes and no... so \\boxed{no}", "no"),
        ("", None),
    ],
)
def test_default_verdict(answer, verdict):
    assert judgement(answer) == verdict


def test_the_papers_first_line_verdict():
    assert paper_first_line("Yes\nNo, wait") == "yes"
    assert paper_first_line("Now let me think.\nYes") == "no"  # the study's substring reading of "Now"
    assert paper_first_line("yes") is None and paper_first_line("Yes and No") is None
    assert sole_yes_no("No. no. NO") == "no"


def test_scoring_both_ways():
    items = [Item("qa-0", {}, "yes", {"task": "qa"}), Item("qa-1", {}, "no", {"task": "qa"}), Item("qa-2", {}, "no", {"task": "qa"})]
    answers = ["Let me check the knowledge.\nThe answer is fabricated, so: Yes", "Yes and no", "No\nbut yes, partly"]
    default = HaluEval().score(items, answers, None)
    assert [(v.score, v.extracted, v.status) for v in default] == [(1.0, "yes", "ok"), (0.0, None, "no_answer"), (0.0, None, "no_answer")]
    paper = HaluEval(first_line_only=True).score(items, answers, None)
    assert [(v.score, v.extracted, v.status) for v in paper] == [(0.0, None, "no_answer"), (0.0, "yes", "ok"), (1.0, "no", "ok")]
    assert HaluEval().scorer == "halueval" and HaluEval(first_line_only=True).scorer == "halueval-first-line"
