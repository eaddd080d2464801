"""Multiple-choice answer extraction: the letter (or yes/no) a completion settled on.

Pure string functions shared by GPQA-Diamond, ACPBench, HeadQA (generation) and any other
multiple-choice benchmark.

- :func:`final_letter` (the default): only the final answer counts. The thinking is dropped first
  (text after the last ``</think>``; a ``<think>`` that never closed gives no answer). Then the last
  ``\\boxed{X}`` whose content is a single option letter wins; failing that, the last "answer is
  (X)" / "Answer: X" / "**Final Answer**: X" form; failing that, ``None`` (graded wrong, never
  guessed at). Option letters count only in upper case ("the answer is a" is not read as A);
  the phrase itself may be in any case.
- :func:`paper_last_letter`: the study's GPQA regex, kept for comparison with its numbers: the last
  stand-alone A-D anywhere in the upper-cased output, thinking included (so a stray "a" or "I"
  can be read as an answer).
- :func:`final_yes_no`: the same "final answer" rules for yes/no questions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from transferlab.items import Verdict
from transferlab.scoring.extract import last_boxed

__all__ = [
    "EXTRACTIONS",
    "answer_after_thinking",
    "boxed_letter",
    "choice_verdicts",
    "final_letter",
    "final_yes_no",
    "letters_for",
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


def boxed_letter(text: str, letters: str = "ABCD") -> str | None:
    """The letter in the last usable ``\\boxed{...}`` (``\\boxed{B}``, ``\\boxed{\\text{(B)}}``,
    ``\\boxed{B) 4.2 eV}``); ``None`` when the last box holds no option letter."""
    content = last_boxed(text)
    if content is None:
        return None
    match = re.match(_wrapped_letter(letters) + r"(?:[\s).:}\]*$]|$)", content.strip() + " ")
    return match.group(1) if match else None


def phrase_letter(text: str, letters: str = "ABCD") -> str | None:
    """The letter after the last "answer is (X)" / "Answer: X" / "**Final Answer**: X" phrase."""
    pattern = re.compile(_PHRASE + _wrapped_letter(letters))
    matches = list(pattern.finditer(text))
    return matches[-1].group(1) if matches else None


def final_letter(text: str, letters: str = "ABCD") -> str | None:
    """The final answer's letter (see the module docstring), or ``None``."""
    answer = answer_after_thinking(text)
    if answer is None:
        return None
    return boxed_letter(answer, letters) or phrase_letter(answer, letters)


def paper_last_letter(text: str, letters: str = "ABCD") -> str | None:
    """The study's lenient GPQA extraction: the last stand-alone letter in the upper-cased text."""
    found = re.findall(rf"\b([{letters}])\b", text.upper())
    return found[-1] if found else None


_YES_NO = r"[\s(\[{*$]*(?:\\(?:text|textbf|mathrm)\s*\{\s*)?(yes|no)\b"


def final_yes_no(text: str) -> str | None:
    """``"yes"`` or ``"no"`` from the final answer (box first, then an answer phrase), or ``None``."""
    answer = answer_after_thinking(text)
    if answer is None:
        return None
    boxed = last_boxed(answer)
    if boxed is not None:
        match = re.match(_YES_NO + r"[\s.}]*$", boxed.strip(), re.IGNORECASE)
        if match:
            return match.group(1).lower()
    matches = list(re.finditer(_PHRASE + _YES_NO, answer, re.IGNORECASE))
    return matches[-1].group(1).lower() if matches else None


def choice_verdicts(answers: Sequence[str], golds: Sequence[str], extract: Callable[[str], str | None]) -> list[Verdict]:
    """Score each answer 1 when ``extract(answer)`` equals its gold label, else 0.

    An answer from which nothing could be extracted gets status ``"no_answer"``.
    """
    verdicts = []
    for answer, gold in zip(answers, golds, strict=True):
        got = extract(answer)
        if got is None:
            verdicts.append(Verdict(0.0, None, "no_answer"))
        else:
            verdicts.append(Verdict(1.0 if got == gold else 0.0, got, "ok"))
    return verdicts
