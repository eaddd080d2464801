"""Prompt-lookup drafts for speculative greedy decoding (pure functions).

Prompt-lookup decoding (Saxena 2023; transformers' ``prompt_lookup_num_tokens``, vLLM's n-gram
speculator) guesses a row's next tokens by copying text that followed an earlier occurrence of its
last few tokens, in the prompt or in what it has generated so far. Maths answers repeat the numbers
and phrases of their question and of their own earlier lines, so the guesses are often right. The
model then checks all the guessed tokens in one forward pass (see
:mod:`transferlab.backends.continuous`): greedy outputs are unchanged, only the number of steps falls.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_NGRAM = 3  # longest suffix (tokens) looked up
MIN_NGRAM = 2  # shortest suffix (tokens) looked up: a single token matches too often to be worth checking


def lookup_draft(ids: Sequence[int], k: int, max_ngram: int = MAX_NGRAM, min_ngram: int = MIN_NGRAM) -> list[int]:
    """The draft for a row: up to ``k`` tokens that followed the latest earlier match of its suffix.

    Args:
        ids: the row's token ids so far (prompt + generated), oldest first.
        k: most draft tokens to return.
        max_ngram, min_ngram: suffix lengths (tokens) tried, longest first.

    Returns:
        The tokens after the most recent earlier occurrence of the longest suffix of ``ids`` (of
        ``max_ngram`` down to ``min_ngram`` tokens) found earlier in ``ids``; empty when none.
    """
    total = len(ids)
    if k <= 0:
        return []
    ids = list(ids)
    for n in range(min(max_ngram, total - 1), min_ngram - 1, -1):
        suffix = ids[total - n :]
        first = suffix[0]
        # latest start i < total - n (an occurrence other than the suffix itself)
        for i in range(total - n - 1, -1, -1):
            if ids[i] == first and ids[i : i + n] == suffix:
                return ids[i + n : i + n + k]
    return []


def accepted_prefix(draft: Sequence[int], greedy: Sequence[int]) -> int:
    """How many draft tokens the model confirms: the longest ``a`` with ``draft[:a] == greedy[:a]``.

    ``greedy[i]`` is the model's argmax after the row's last token and ``draft[:i]``; so the row
    emits ``draft[:a]`` and then the bonus token ``greedy[a]`` (``len(greedy) > len(draft)``).
    """
    a = 0
    while a < len(draft) and draft[a] == greedy[a]:
        a += 1
    return a
