"""Multiple-choice answer extraction: the letter (or yes/no) a completion settled on.

Pure string functions shared by GPQA-Diamond, ACPBench, HeadQA (generation) and any other
multiple-choice benchmark.

- :func:`final_letter` (the default): only the final answer counts. The thinking is dropped first
  (text after the last ``</think>``; a ``<think>`` that never closed gives no answer). Then the last
  ``\\boxed{X}`` whose content is a single option letter wins (a placeholder quoted back from the
  prompt, ``\\boxed{X}`` or ``\\boxed{your_answer}``, is skipped); failing that, the last "answer
  is (X)" / "Answer: X" / "**Final Answer**: X" form that is the model's own (not a "Reference
  Answer: X"); failing that, ``None`` (graded wrong, never guessed at). Option letters count only
  in upper case ("the answer is a" is not read as A); the phrase itself may be in any case.
  :func:`locate_letter` also says where the letter came from: ``"boxed"``, or ``"phrase"``, a
  fallback that does not count in a completion cut off by its token budget.
- :func:`paper_last_letter`: the study's GPQA regex, kept for comparison with its numbers: the last
  stand-alone A-D anywhere in the upper-cased output, thinking included (so a stray "a" or "I"
  can be read as an answer).
- :func:`final_yes_no`: the same "final answer" rules for yes/no questions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from transferlab.items import Verdict
from transferlab.scoring.extract import ANSWER_FROM, attributed_to_other, boxed_contents, last_boxed

__all__ = [
    "EXTRACTIONS",
    "answer_after_thinking",
    "boxed_letter",
    "choice_verdicts",
    "final_letter",
    "final_yes_no",
    "letters_for",
    "locate_letter",
    "locate_yes_no",
    "paper_last_letter",
    "phrase_letter",
]

ALPHABET = "ABCDEFGHIJ"
EXTRACTIONS = ("final", "paper")  # final_letter (default) | paper_last_letter

_OPEN, _CLOSE = "<think>", "</think>"


def _wrapped_letter(letters: str) -> str:
    """One option letter with the wrappers models put around it (``(B)``, ``**B**``, ``\\text{B}``)."""
    return r"[\s(\[{*$]*(?:\\(?:text|textbf|mathrm|mathbf)\s*\{\s*)?\(?([" + re.escape(letters) + r"])\b(?![-'’])"


_PHRASE = (
    r"(?i:final\s+answer|correct\s+answer|answer)\s*(?:\*\*)?\s*(?i:is|:|=)\s*(?:\*\*)?\s*"
    r"(?i:(?:option|choice)\s*)?"
)


def letters_for(n_options: int) -> str:
    """The option letters of a question with ``n_options`` options (``4`` → ``"ABCD"``)."""
    if not 2 <= n_options <= len(ALPHABET):
        raise ValueError(f"a multiple-choice question needs 2 to {len(ALPHABET)} options, not {n_options}")
    return ALPHABET[:n_options]


def answer_after_thinking(text: str) -> str | None:
    """The text after the last ``</think>``; ``None`` when a ``<think>`` never closed."""
    close = text.rfind(_CLOSE)
    if close >= 0:
        return text[close + len(_CLOSE) :]
    if _OPEN in text:
        return None
    return text


def _letter_placeholder(content: str, letters: str) -> bool:
    """A box quoting the prompt's format back: ``\\boxed{X}`` (X not an option), ``\\boxed{letter}``."""
    bare = re.sub(r"[\s$*(){}]|\\(?:textbf|text|mathrm)", "", content)
    return (bare == "X" and "X" not in letters) or bare.lower() in ("letter", "yourletter", "correctletter")


def boxed_letter(text: str, letters: str = "ABCD") -> str | None:
    """The letter in the last usable ``\\boxed{...}`` (``\\boxed{B}``, ``\\boxed{\\text{(B)}}``,
    ``\\boxed{B) 4.2 eV}``), placeholders skipped; ``None`` when the last box holds no option letter."""
    contents = [c for c in boxed_contents(text) if not _letter_placeholder(c, letters)]
    if not contents:
        return None
    match = re.match(_wrapped_letter(letters) + r"(?:[\s).:}\]*$]|$)", contents[-1].strip() + " ")
    return match.group(1) if match else None


def phrase_letter(text: str, letters: str = "ABCD") -> str | None:
    """The letter after the last "answer is (X)" / "Answer: X" / "**Final Answer**: X" phrase that
    the model does not attribute to someone else ("Reference Answer: X")."""
    pattern = re.compile(_PHRASE + _wrapped_letter(letters))
    for match in reversed(list(pattern.finditer(text))):
        if not attributed_to_other(text, match.start()):
            return match.group(1)
    return None


def locate_letter(text: str, letters: str = "ABCD") -> tuple[str | None, str | None]:
    """The final answer's letter and where it was found (``"boxed"`` or ``"phrase"``), or ``(None, None)``."""
    answer = answer_after_thinking(text)
    if answer is None:
        return None, None
    boxed = boxed_letter(answer, letters)
    if boxed is not None:
        return boxed, "boxed"
    phrase = phrase_letter(answer, letters)
    return (phrase, "phrase") if phrase is not None else (None, None)


def final_letter(text: str, letters: str = "ABCD") -> str | None:
    """The final answer's letter (see the module docstring), or ``None``."""
    return locate_letter(text, letters)[0]


def paper_last_letter(text: str, letters: str = "ABCD") -> str | None:
    """The study's lenient GPQA extraction: the last stand-alone letter in the upper-cased text."""
    found = re.findall(rf"\b([{letters}])\b", text.upper())
    return found[-1] if found else None


_YES_NO = r"[\s(\[{*$]*(?:\\(?:text|textbf|mathrm)\s*\{\s*)?(yes|no)\b"


def locate_yes_no(text: str) -> tuple[str | None, str | None]:
    """``"yes"`` or ``"no"`` from the final answer (box first, then an answer phrase that is the
    model's own) and where it was found (``"boxed"`` or ``"phrase"``), or ``(None, None)``."""
    answer = answer_after_thinking(text)
    if answer is None:
        return None, None
    boxed = last_boxed(answer)
    if boxed is not None:
        match = re.match(_YES_NO + r"[\s.}]*$", boxed.strip(), re.IGNORECASE)
        if match:
            return match.group(1).lower(), "boxed"
    for found in reversed(list(re.finditer(_PHRASE + _YES_NO, answer, re.IGNORECASE))):
        if not attributed_to_other(answer, found.start()):
            return found.group(1).lower(), "phrase"
    return None, None


def final_yes_no(text: str) -> str | None:
    """``"yes"`` or ``"no"`` from the final answer (:func:`locate_yes_no`), or ``None``."""
    return locate_yes_no(text)[0]


def choice_verdicts(answers: Sequence[str], golds: Sequence[str], extract: Callable[[str], str | None | tuple[str | None, str | None]]) -> list[Verdict]:
    """Score each answer 1 when ``extract(answer)`` equals its gold label, else 0.

    ``extract`` returns the label, or ``(label, source)`` where it also says where the label was
    found (:func:`locate_letter`; kept in the verdict's details). An answer from which nothing
    could be extracted gets status ``"no_answer"``.
    """
    verdicts = []
    for answer, gold in zip(answers, golds, strict=True):
        found = extract(answer)
        got, source = found if isinstance(found, tuple) else (found, None)
        if got is None:
            verdicts.append(Verdict(0.0, None, "no_answer"))
        else:
            verdicts.append(Verdict(1.0 if got == gold else 0.0, got, "ok", {ANSWER_FROM: source} if source else None))
    return verdicts
