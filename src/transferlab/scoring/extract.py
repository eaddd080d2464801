"""Pull the final answer out of a math completion (pure string functions, no sympy).

Two extraction styles, picked by the benchmark:

- ``"boxed"`` (MATH-500, AIME, OlympiadBench): the content of the last ``\\boxed{...}`` or
  ``\\fbox{...}``; failing that, the short answer after the last "final answer is" / "answer is"
  phrase; failing that, ``None`` (no answer: the completion is graded wrong, never guessed at).
- ``"gsm8k"``: the last boxed answer, then the last ``#### N`` line, then "answer is X", then the
  last number anywhere in the text. Thousands separators are removed from the numbers it returns.

:func:`locate_math_answer` also says where the answer came from (``"boxed"``, ``"hashes"``, or one
of the :data:`FALLBACK_SOURCES`, ``"phrase"`` and ``"last_number"``): a fallback never credits a
completion that stopped at its token budget (:func:`transferlab.scoring.graded.split_and_grade`).

What is never an answer: a placeholder quoted back from the prompt (``\\boxed{your_answer}``,
``\\boxed{answer}``, ``\\boxed{...}``), an unclosed or empty box, a phrase whose answer is a
whole sentence ("the answer is wrong, or perhaps ... x=46° ..."), an answer the model attributes
to someone else ("Reference Answer: 4").

The caller removes the thinking part first; these functions look only at the answer part. The
clean-up before comparison lives in :mod:`transferlab.scoring.normalize`.
"""

from __future__ import annotations

import re
from typing import Final

from transferlab.options import ANSWER_STYLES, AnswerStyle

__all__ = [
    "ANSWER_FROM",
    "FALLBACK_SOURCES",
    "answer_phrase",
    "attributed_to_other",
    "boxed_contents",
    "boxed_group",
    "extract_math_answer",
    "gsm8k_hashes",
    "is_placeholder",
    "last_boxed",
    "last_number",
    "locate_math_answer",
]

ANSWER_FROM: Final = "answer_from"
"""The key of a verdict's ``details`` that names where its answer was found (a source below)."""
FALLBACK_SOURCES: Final = frozenset({"phrase", "last_number"})
"""Sources that are guesses from running text, not a final answer the model marked as such."""

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
# A number, possibly negative, possibly with thousands separators or a decimal part.
_NUMBER_RE = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
_HASHES_RE = re.compile(r"^[ \t]*####[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_PHRASE_RE = re.compile(r"(?:final\s+answer|answer)\s*(?:is|:)\s*:?", re.IGNORECASE)
# "Reference Answer:", "the expected answer is": an answer the model attributes to someone else.
_OTHERS_RE = re.compile(r"\b(?:reference|provided|given|expected|official|textbook|book's|sample)[\s*_]*$", re.IGNORECASE)
# "the answer is supposed to be 4", "... is given as 4": someone else's answer, reported.
_HEARSAY_RE = re.compile(r"^(?:supposed|said|claimed|stated|given|expected|meant|listed)\b", re.IGNORECASE)
_PLACEHOLDER_RE = re.compile(r"^(?:(?:your|the|my|final)\s+)*(?:answer|solution|result)(?:\s+here)?$|^(?:\.\.\.|…|\\[lc]?dots)$")
_UNWRAP_RE = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox)\s*\{([^{}]*)\}")
# What may stand between boxes given together: spaces, math delimiters, commas, "and"/"or", "x =".
_GROUP_GAP_RE = re.compile(
    r"(?:\s|\$|\\[()\[\]]|[,;&]|\\[,;: ]|\\q?quad\b|\\\\|\band\b|\bor\b|\\(?:text|mbox)\{\s*(?:and|or|,)?\s*\}|[A-Za-z](?:_\{?\w+\}?)?\s*=)*",
    re.IGNORECASE,
)
_SPACES_RE = re.compile(r"\s*")
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.DOTALL)  # an escaped character (\{ is text), or a brace
_BARE_ARG_RE = re.compile(r"(?:(?!\$|\\\]|\\\)).)*")  # up to the end of the math ($, \], \)) or of the line
_WORD_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}")
_MAX_PHRASE_WORDS = 3  # "all real numbers", "18 dollars"; more is a sentence, not an answer
_MAX_PHRASE_CHARS = 120


def _braced(text: str, open_at: int) -> tuple[str, int] | None:
    """The content of the brace group whose ``{`` is at ``open_at``, and the index after its ``}``.

    Escaped braces (``\\{`` and ``\\}``) count as text, not as group delimiters. ``None`` when the
    group never closes (a truncated completion).
    """
    depth = 0
    i = open_at
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i], i + 1
        i += 1
    return None


def _brace_pairs(text: str) -> dict[int, int]:
    """The index of the matching ``}`` of every ``{`` that closes (escaped braces are text), found in
    one pass: a long output with many unclosed boxes costs no more than one with none."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACE_TOKEN_RE.finditer(text):
        if match.group() == "{":
            stack.append(match.start())
        elif match.group() == "}" and stack:
            pairs[stack.pop()] = match.start()
    return pairs


def _box_at(text: str, start: int, pairs: dict[int, int]) -> tuple[str, int] | None:
    """The argument of the ``\\boxed``/``\\fbox`` command that ends at ``start`` and the index after
    it (``None`` when there is none); ``pairs`` is :func:`_brace_pairs` of ``text``."""
    opening = _SPACES_RE.match(text, start).end()  # type: ignore[union-attr]  # \s* always matches
    if text[opening : opening + 1] == "{":
        close = pairs.get(opening)
        return None if close is None else (text[opening + 1 : close], close + 1)
    if text[start : start + 1] in (" ", "\t"):
        # ``\boxed 5`` form: the argument runs to the end of the math or of the line.
        end = _BARE_ARG_RE.match(text, opening).end()  # type: ignore[union-attr]
        arg = text[opening:end].strip().rstrip(".")
        return (arg, end) if arg else None
    return None


def is_placeholder(content: str) -> bool:
    """Whether a box holds a placeholder quoted back from a prompt (``your_answer``, ``your\\_answer``,
    ``answer``, ``\\text{final answer}``, ``...``, ``\\ldots``) rather than an answer."""
    text = _UNWRAP_RE.sub(r"\1", content.strip().strip("$").strip())
    text = text.replace("\\_", "_").replace("_", " ").strip(" <>[]()*").lower()
    return bool(_PLACEHOLDER_RE.match(" ".join(text.split())))


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of every closed, non-empty, outermost box, in order."""
    found: list[tuple[int, int, str]] = []
    end_of_last = -1
    pairs = _brace_pairs(text) if "\\boxed" in text or "\\fbox" in text else {}
    for match in _BOX_RE.finditer(text):
        if match.start() < end_of_last:
            continue  # a box inside the previous box
        box = _box_at(text, match.end(), pairs)
        if box is None or not box[0].strip():
            continue
        content = box[0].strip()
        inner = last_boxed(content) if _braced_whole(content) else None
        found.append((match.start(), box[1], inner if inner is not None else content))
        end_of_last = box[1]
    return found


def boxed_contents(text: str) -> list[str]:
    """The content of every usable box (closed, non-empty, not a placeholder), in order."""
    return [content for _, _, content in _boxes(text) if not is_placeholder(content)]


def last_boxed(text: str) -> str | None:
    """The content of the last well-formed, non-empty ``\\boxed{...}`` or ``\\fbox{...}``.

    Nested braces are handled (``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``), a box inside a box
    is unwrapped, and the brace-less ``\\boxed 5`` form is read up to the end of the math or line.
    An unclosed or empty last box (``\\boxed{}`` in a restated instruction, a truncated answer) or a
    placeholder (``\\boxed{your_answer}``) is skipped in favour of the box before it. ``None`` when
    there is no usable box.
    """
    contents = boxed_contents(text)
    return contents[-1] if contents else None


def boxed_group(text: str) -> list[str]:
    """The last usable box with the boxes given together with it: ``\\boxed{-2}, \\boxed{1}``,
    ``$\\boxed{2}$ and $\\boxed{3}$``, ``x=\\boxed{1}, y=\\boxed{2}`` give two answers. Boxes count as
    given together when only spaces, math delimiters, commas, "and"/"or" or a ``name =`` stand
    between them. Empty when there is no usable box."""
    boxes = [b for b in _boxes(text) if not is_placeholder(b[2])]
    if not boxes:
        return []
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if not _GROUP_GAP_RE.fullmatch(text[box[1] : group[0][0]]):
            break
        group.insert(0, box)
    return [content for _, _, content in group]


def _braced_whole(content: str) -> bool:
    """Whether ``content`` is one single ``\\boxed{...}``/``\\fbox{...}`` and nothing else."""
    match = _BOX_RE.match(content)
    if match is None:
        return False
    brace = content.find("{", match.end())
    if brace < 0 or content[match.end() : brace].strip():
        return False
    group = _braced(content, brace)
    return group is not None and not content[group[1] :].strip()


def _clean_number(text: str) -> str:
    """Remove thousands separators (``1,234`` → ``1234``) and a trailing full stop."""
    text = text.strip().rstrip(".")
    return re.sub(r"(?<=\d),(?=\d{3}(?:\D|$))", "", text)


def gsm8k_hashes(text: str) -> str | None:
    """The answer on the last ``#### N`` line (GSM8K's reference format), commas removed."""
    matches = _HASHES_RE.findall(text)
    if not matches:
        return None
    answer = _clean_number(matches[-1]).strip().strip("$").strip()
    return answer or None


def last_number(text: str) -> str | None:
    """The last number in the text (``-3``, ``1,234.5`` → ``1234.5``, ``.5``), or ``None``."""
    matches = _NUMBER_RE.findall(text)
    return _clean_number(matches[-1]) if matches else None


def attributed_to_other(text: str, start: int) -> bool:
    """Whether the answer phrase starting at ``start`` is someone else's ("Reference Answer:",
    "the expected answer is"), not the model's own."""
    return bool(_OTHERS_RE.search(text[max(0, start - 40) : start]))


def answer_phrase(text: str) -> str | None:
    """The short answer after the last "final answer is" / "answer is" / "answer:" phrase.

    The answer is the math right after the phrase (``$…$``, ``\\(…\\)``, ``\\[…\\]``), else the rest
    of its line or sentence, wrappers (``$``, ``**``, a full stop) removed. A phrase the model
    attributes to someone else ("Reference Answer:", "the answer is supposed to be") is skipped.
    When the last phrase is followed by a sentence rather than a short answer (more than three
    words), there is no answer: ``None``.
    """
    for match in reversed(list(_PHRASE_RE.finditer(text))):
        rest = text[match.end() :]
        if attributed_to_other(text, match.start()) or _HEARSAY_RE.match(rest.lstrip()):
            continue
        answer = _answer_span(rest)
        if answer is None:
            return None
        if answer:
            return answer
    return None


def _answer_span(rest: str) -> str | None:
    """The answer at the start of ``rest``: ``""`` when there is nothing, ``None`` for a sentence."""
    rest = rest.lstrip()
    span = re.split(r"\n|\.\s", rest, maxsplit=1)[0]
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(left):
            end = rest.find(right, len(left))
            if end > len(left):
                span = " ".join(rest[len(left) : end].split())
            break
    answer = _strip_wrappers(span)
    if not answer:
        return ""
    plain = re.sub(r"\\[A-Za-z]+", " ", answer)
    if len(answer) > _MAX_PHRASE_CHARS or len(_WORD_RE.findall(plain)) > _MAX_PHRASE_WORDS:
        return None
    return answer


def _strip_wrappers(answer: str) -> str:
    answer = answer.strip()
    previous = None
    while previous != answer:
        previous = answer
        answer = answer.strip().rstrip(".").strip()
        for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
            if answer.startswith(left) and answer.endswith(right) and len(answer) > len(left + right) - 1:
                answer = answer[len(left) : len(answer) - len(right)]
        answer = answer.strip("*").strip()
    return answer


def locate_math_answer(text: str, style: AnswerStyle = "boxed") -> tuple[str | None, str | None]:
    """The final answer of a completion under ``style`` and where it was found: ``(answer, source)``.

    "boxed": last ``\\boxed``/``\\fbox`` (source ``"boxed"``), else the "final answer is X" /
    "answer is X" phrase (``"phrase"``). "gsm8k": last boxed, else the last ``#### N``
    (``"hashes"``), else the last number in the "answer is X" phrase, else the last number in the
    text (``"last_number"``); thousands separators removed from these numbers. ``(None, None)``
    when there is no answer.
    """
    if style not in ANSWER_STYLES:
        raise ValueError(f"unknown extraction style {style!r}; expected one of {ANSWER_STYLES}")
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed, "boxed"
    if style == "boxed":
        phrase = answer_phrase(text)
        return (phrase, "phrase") if phrase is not None else (None, None)
    hashes = gsm8k_hashes(text)
    if hashes is not None:
        return hashes, "hashes"
    phrase = answer_phrase(text)
    if phrase is not None:
        # "The answer is 18 dollars." → "18": GSM8K answers are numbers.
        return last_number(phrase) or phrase, "phrase"
    number = last_number(text)
    return (number, "last_number") if number is not None else (None, None)


def extract_math_answer(text: str, style: AnswerStyle = "boxed") -> str | None:
    """The final answer of a completion under ``style`` ("boxed" or "gsm8k"), or ``None``
    (:func:`locate_math_answer` without the source)."""
    return locate_math_answer(text, style)[0]
