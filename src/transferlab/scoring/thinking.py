"""Split a completion into its thinking and its answer.

With the parsers ``think`` and ``think-end`` the completion decides: a ``</think>`` inside it marks
everything before it (the last one, when there are several) as thinking, whatever the prompt said.
So a model tuned to think that reasons and writes a bare ``</think>`` after a prompt that closed an
empty block (Qwen3's non-thinking format, ending ``<think>\\n\\n</think>\\n\\n``) has its reasoning
split off, never graded as the answer.

A parser is chosen per model (``thinking_parser`` in a study spec's model entry, else the
generation settings'), and recorded with every verdict (``results`` shows it):

- ``"think"``: ``<think>...</think>`` anywhere in the text (DeepSeek-R1, s1, OpenThinker).
- ``"think-end"``: the chat template already opened ``<think>`` in the prompt (Qwen3), so the
  completion holds only ``...</think>``; an opening tag, if the model writes one, is tolerated.
- ``"none"``: the whole text is the answer.

A thinking block that never closed is its own outcome, ``unclosed``: the answer is empty and a
scorer must grade it as wrong, never grade the reasoning as the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from transferlab.options import THINKING_PARSERS, ThinkingParser, ThinkingRequest

__all__ = ["CLOSE_TAG", "OPEN_TAG", "ThinkingSplit", "ThinkingStatus", "parser_for_prompt", "split_thinking"]

ThinkingStatus = Literal["none", "closed", "unclosed"]

OPEN_TAG: Final = "<think>"
CLOSE_TAG: Final = "</think>"


@dataclass(frozen=True)
class ThinkingSplit:
    """The parts of one completion.

    ``status`` is ``"none"`` when there was no thinking, ``"closed"`` when a thinking block ended,
    ``"unclosed"`` when it never ended (the answer is then ``""``).
    """

    thinking: str
    answer: str
    status: ThinkingStatus

    @property
    def truncated_thinking(self) -> bool:
        """True when the thinking block never closed."""
        return self.status == "unclosed"


def split_thinking(text: str, parser: ThinkingParser = "think") -> ThinkingSplit:
    """Split ``text`` with the named parser (see module docstring)."""
    if parser == "none":
        return ThinkingSplit("", text.strip(), "none")
    if parser not in THINKING_PARSERS:
        raise ValueError(f"unknown thinking parser {parser!r}; choose one of {', '.join(THINKING_PARSERS)}")
    close = text.rfind(CLOSE_TAG)
    if close >= 0:
        thinking = text[:close]
        start = thinking.find(OPEN_TAG)
        if start >= 0:
            thinking = thinking[start + len(OPEN_TAG) :]
        return ThinkingSplit(thinking.strip(), text[close + len(CLOSE_TAG) :].strip(), "closed")
    start = text.find(OPEN_TAG)
    if start >= 0:
        return ThinkingSplit(text[start + len(OPEN_TAG) :].strip(), "", "unclosed")
    if parser == "think-end":
        # The template opened <think> in the prompt and the completion never closed it.
        return ThinkingSplit(text.strip(), "", "unclosed")
    return ThinkingSplit("", text.strip(), "none")


def parser_for_prompt(rendered_prompt: str, requested: ThinkingRequest = "auto") -> ThinkingParser:
    """The parser to use for completions of ``rendered_prompt``.

    ``"auto"`` picks ``think-end`` when the rendered prompt itself ends inside an open thinking
    block (Qwen3-style templates write ``<think>`` into the generation prompt), else ``think``;
    either way a ``</think>`` in the completion ends its thinking (see the module docstring).
    Any other value is returned unchanged after validation.
    """
    if requested != "auto":
        if requested not in THINKING_PARSERS:
            raise ValueError(f"unknown thinking parser {requested!r}; choose auto or one of {', '.join(THINKING_PARSERS)}")
        return requested
    tail = rendered_prompt.rstrip()
    if tail.endswith(OPEN_TAG):
        return "think-end"
    return "think"
