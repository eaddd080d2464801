"""Fallbacks never credit an unfinished answer (issue #20, item 5): real items from shared/data, a
real store, the real scoring pipeline; the answers are synthetic.

A completion whose thinking never closed, or that stopped at its token budget (finish reason
``length``) without a final answer it marked as such (a box), scores 0; a text fallback ("the
answer is ...") counts only in a finished completion, and only as a short span.
"""

from __future__ import annotations

from conftest import store_answers
from transferlab.benchmarks import get_benchmark
from transferlab.pipeline.score import score_store
from transferlab.store import Store


def scored(tmp_path, benchmark: str, items, texts: list[str], finish: list[str]) -> list[tuple[float, str | None, str]]:
    """Store the answers with their finish reasons, score the store; (score, extracted, status) per item."""
    path = tmp_path / f"{benchmark}.db"
    store_answers(path, benchmark, items, texts, finish=finish)
    with Store(path) as store:
        score_store(store, show_progress=False)
        rows = {r["item_id"]: r for r in store.rows()}
    return [(rows[i.id]["score"], rows[i.id]["extracted"], rows[i.id]["score_status"]) for i in items]


def test_math_credits_only_a_marked_final_answer_when_cut_off(shared_data, tmp_path):
    items = [i for i in get_benchmark("math500").load(shared_data, limit=40) if i.reference.strip().isdigit()][:6]
    assert len(items) == 6
    gold = [str(i.reference) for i in items]
    texts = [
        f"<think>so it is \\boxed{{{gold[0]}}} and then I keep checking",  # thinking never closed
        f"Working... the answer is {gold[1]}.\n\nBut wait, let me re-check the second case",  # cut off, phrase only
        f"Working... so \\boxed{{{gold[2]}}}.\n\nLet me double-check the arithmetic once",  # cut off after a box
        f"Working... the answer is {gold[3]}.",  # finished, phrase only
        "Working... I need the remaining cases and",  # cut off, nothing at all
        f"The answer is {gold[5]}, or perhaps I made a mistake in assuming that the count is {gold[5]} at all?",  # a sentence
    ]
    got = scored(tmp_path, "math500", items, texts, ["length", "length", "length", "stop", "length", "stop"])
    assert got == [
        (0.0, None, "truncated_thinking"),
        (0.0, gold[1], "truncated"),
        (1.0, gold[2], "ok"),
        (1.0, gold[3], "ok"),
        (0.0, None, "truncated"),
        (0.0, None, "no_answer"),
    ]


def test_gsm8k_last_number_is_no_answer_when_cut_off(shared_data, tmp_path):
    items = get_benchmark("gsm8k").load(shared_data, limit=2)
    texts = [f"First 3 apples, then {i.reference}" for i in items]
    got = scored(tmp_path, "gsm8k", items, texts, ["length", "stop"])
    assert got == [(0.0, items[0].reference, "truncated"), (1.0, items[1].reference, "ok")]


def test_gpqa_letter_cut_off_or_someone_elses_is_not_the_answer(shared_data, tmp_path):
    items = get_benchmark("gpqa_diamond").load(shared_data, limit=5)
    gold = [str(i.reference) for i in items]
    texts = [
        f"The correct answer is {gold[0]}.\n\nBut wait, the second option also",  # cut off
        f"The correct answer is {gold[1]}.\n\nBut wait, I should double-check. Yes, it holds.",  # finished
        f"Final Answer: \\boxed{{{gold[2]}}}\n\nBut wait",  # cut off after a box: the box counts
        f"I compared the options.\n**Reference Answer:** {gold[3]}",  # attributed to a reference
        f"So \\boxed{{{gold[4]}}}. Finish your answer with the format: Final Answer: \\boxed{{X}}",  # placeholder after it
    ]
    got = scored(tmp_path, "gpqa_diamond", items, texts, ["length", "stop", "length", "stop", "stop"])
    assert got == [
        (0.0, gold[0], "truncated"),
        (1.0, gold[1], "ok"),
        (1.0, gold[2], "ok"),
        (0.0, None, "no_answer"),
        (1.0, gold[4], "ok"),
    ]
