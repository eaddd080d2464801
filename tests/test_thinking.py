import pytest

from conftest import store_answers
from transferlab.benchmarks import get_benchmark
from transferlab.pipeline.results import results
from transferlab.pipeline.score import score_store
from transferlab.scoring.thinking import parser_for_prompt, split_thinking
from transferlab.store import Store


def test_closed_block_is_split():
    s = split_thinking("<think>let me see 2+2</think>The answer is \\boxed{4}.", "think")
    assert (s.thinking, s.answer, s.status) == ("let me see 2+2", "The answer is \\boxed{4}.", "closed")


def test_end_tag_only_as_qwen3_opens_the_tag_in_the_prompt():
    s = split_thinking("hmm, 3 apples\n</think>\n\n\\boxed{3}", "think-end")
    assert (s.thinking, s.answer, s.status) == ("hmm, 3 apples", "\\boxed{3}", "closed")
    # the generic parser handles a lone end tag the same way
    assert split_thinking("hmm</think>\\boxed{3}", "think").answer == "\\boxed{3}"


def test_unclosed_thinking_is_never_the_answer():
    s = split_thinking("<think>so the answer is \\boxed{7} wait", "think")
    assert s.status == "unclosed" and s.answer == "" and "boxed{7}" in s.thinking
    s = split_thinking("so the answer is \\boxed{7} wait", "think-end")
    assert s.status == "unclosed" and s.answer == ""


def test_no_thinking():
    assert split_thinking("plain \\boxed{1}", "think").status == "none"
    s = split_thinking("<think>x</think>y", "none")
    assert (s.answer, s.status) == ("<think>x</think>y", "none")


def test_last_close_tag_wins():
    s = split_thinking("<think>a</think> b </think> c", "think")
    assert s.answer == "c"


def test_parser_from_prompt():
    assert parser_for_prompt("<|im_start|>assistant\n<think>\n") == "think-end"
    assert parser_for_prompt("<|im_start|>assistant\n<think>\n\n</think>\n\n") == "think"
    assert parser_for_prompt("<|im_start|>assistant\n") == "think"
    assert parser_for_prompt("anything", "none") == "none"
    with pytest.raises(ValueError):
        parser_for_prompt("x", "bogus")


def test_a_bare_end_tag_after_a_closed_empty_block_in_the_prompt_marks_thinking(shared_data, tmp_path):
    """Qwen3's non-thinking prompt ends in ``<think>\\n\\n</think>\\n\\n``; a model tuned to think may
    still reason and close it with a bare ``</think>``. The completion decides: what precedes its
    ``</think>`` is thinking, never graded as the answer; a completion without one is all answer."""
    items = [i for i in get_benchmark("math500").load(shared_data, limit=30) if i.reference.strip().isdigit()][:2]
    right, other = str(items[0].reference), str(int(items[0].reference) + 1)
    texts = [
        f"Let me think. Maybe \\boxed{{{other}}}? No, recount.\n</think>\n\nSo the result is \\boxed{{{right}}}.",
        f"Directly: \\boxed{{{items[1].reference}}}",
    ]
    path = tmp_path / "s.db"
    store_answers(path, "math500", items, texts, prompt_tail="<|im_start|>assistant\n<think>\n\n</think>\n\n")
    with Store(path) as store:
        score_store(store, show_progress=False)
        rows = {r["item_id"]: r for r in store.rows()}
        shown = results(store)
    first, second = rows[items[0].id], rows[items[1].id]
    assert (first["thinking_status"], first["score"], first["extracted"]) == ("closed", 1.0, right)
    assert first["thinking"].startswith("Let me think.") and other in first["thinking"] and other not in first["answer"]
    assert (second["thinking_status"], second["score"], second["thinking"]) == ("none", 1.0, "")
    assert {r["details"]["thinking_parser"] for r in rows.values()} == {"think"}
    assert [r.thinking_parser for r in shown] == ["think"]  # `results` shows which parser split them
