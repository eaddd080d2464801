import pytest

from transferlab.scoring.thinking import parser_for_prompt, split_thinking


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
