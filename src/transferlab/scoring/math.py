"""The math answer checker: extraction, benchmark-aware clean-up, then math-verify.

``grade_math`` grades one answer in the calling process;
:class:`~transferlab.scoring.math_pool.MathGradingPool` grades batches in a pool of worker processes
with a hard wall-clock limit per answer, so that no answer can hang or crash a run.
The RL reward and every math benchmark use this one scorer.

How an answer is graded:

1. The answer is extracted from the response (``extract.py``; none found → ``no_answer``); boxes
   given together (``\\boxed{-2}, \\boxed{1}``) are read together where the reference has several parts.
2. Answer and reference(s) are cleaned the same way (``normalize.normalize_answer``): math wrappers,
   ``\\text{}`` ("and"/"or" become commas), degree and percent signs, LaTeX spacing (a matrix keeps
   its row breaks, every matrix environment becomes ``pmatrix``), ``{,}``.
3. Both are split into single answers at top-level commas (OlympiadBench's "1,3,5" or
   "(1,2),(3,4)"; commas inside brackets stay with their tuple or interval; a list of references is
   flattened the same way), and each single answer loses the task's unit, unit words, ``x=`` /
   ``f(x)=`` prefixes, thousands separators, ordinal suffixes ("12^{th}") and leading zeros
   ("025" → "25"); where the reference is a plain number, words after a number go too ("12 grade").
4. Single answers are compared by ``math_verify.verify`` (numeric, symbolic, set, interval, tuple,
   relation, matrix entry by entry in order); several answers must match as sets: every reference
   answer is given, nothing else is, in any order (as OlympiadBench's own judge does), a repeated
   reference answer counting once. An Interval answer may be written as an inequality (``x < -5``
   for ``(-\\infty, -5)``).

math-verify's own timeout uses ``SIGALRM`` and is switched off everywhere here; the limit is a
``SIGALRM`` timer of our own in ``grade_math`` (main thread only) and a hard kill in ``MathGradingPool``.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from transferlab.items import Verdict
from transferlab.options import MATH_GRADERS, AnswerStyle, MathGraderName
from transferlab.scoring.extract import ANSWER_FROM, boxed_group, locate_math_answer
from transferlab.scoring.normalize import NUMBERISH_RE, normalize_answer, normalize_part, number_in_words, split_answers

__all__ = ["MathTask", "MathVerdict", "answers_equivalent", "extract_for", "grade_math", "load_math_verify", "locate_for", "reference_parts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MathTask:
    """One answer to grade.

    ``response`` is the answer part of a completion (thinking already removed). ``gold`` is the
    reference answer, or a list of references that must all be given. ``style`` picks the extraction
    ("boxed" or "gsm8k"). ``unit`` (OlympiadBench, e.g. "km/h", "^{\\circ}") is removed from both
    sides. ``answer_type`` (OlympiadBench: Numerical / Expression / Tuple / Interval): an Interval
    reference also accepts the equivalent inequality. ``grader`` is one of :data:`~transferlab.options.MATH_GRADERS`;
    "qwen25-math" ignores ``style``, ``unit`` and ``answer_type`` as that harness does.
    """

    response: str
    gold: str | list[str]
    style: AnswerStyle = "boxed"
    unit: str | None = None
    answer_type: str | None = None
    grader: MathGraderName = "transferlab"

    def __post_init__(self) -> None:
        if self.grader not in MATH_GRADERS:
            raise ValueError(f"unknown math grader {self.grader!r}: choose from {', '.join(MATH_GRADERS)}")


@dataclass(frozen=True)
class MathVerdict:
    """The grade of one answer; ``status`` is "ok", "no_answer", "timeout" or "error"; ``source``
    says where the answer was found (``"boxed"``, ``"hashes"``, ``"phrase"``, ``"last_number"``,
    see :func:`~transferlab.scoring.extract.locate_math_answer`; ``None``: no answer)."""

    correct: bool
    extracted: str | None
    status: str
    source: str | None = None

    def to_verdict(self) -> Verdict:
        """The benchmark verdict: score 1.0 when correct, else 0.0, with the extracted answer, the
        status and (in ``details``) where the answer was found."""
        return Verdict(1.0 if self.correct else 0.0, self.extracted, self.status, {ANSWER_FROM: self.source} if self.source else None)


# --------------------------------------------------------------------------------------------
# Comparison (math-verify underneath)
# --------------------------------------------------------------------------------------------


def load_math_verify() -> Any:
    """The ``math_verify`` module, its logger quieted (imported on first use: it is slow to import)."""
    import math_verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> list[Any]:
    """math-verify's parse of one cleaned answer, cached per process (a reference is parsed once
    for all of its k samples; the result is never mutated)."""
    mv = load_math_verify()
    config = [mv.LatexExtractionConfig(boxed_match_priority=0), mv.ExprExtractionConfig()]
    return mv.parse(f"${text}$", extraction_config=config, parsing_timeout=None)


def _verify_pair(gold: str, pred: str, answer_type: str | None) -> bool:
    if gold == pred:
        return True
    gold_parsed, pred_parsed = _parse(gold), _parse(pred)
    if not gold_parsed or not pred_parsed:
        return False
    interval = (answer_type or "").lower() == "interval"
    return bool(load_math_verify().verify(gold_parsed, pred_parsed, allow_set_relation_comp=interval, timeout_seconds=None))


def _match_all(golds: list[str], preds: list[str], answer_type: str | None) -> bool:
    """One-to-one matching of gold answers to predicted answers, in any order."""
    if len(golds) != len(preds):
        return False
    remaining = list(range(len(preds)))
    for gold in golds:
        hit = next((j for j in remaining if preds[j] == gold), None)
        if hit is None:
            hit = next((j for j in remaining if _verify_pair(gold, preds[j], answer_type)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def _dedupe(parts: list[str], answer_type: str | None) -> list[str]:
    kept: list[str] = []
    for part in parts:
        if not any(part == k or _verify_pair(k, part, answer_type) for k in kept):
            kept.append(part)
    return kept


def _sets_match(golds: list[str], preds: list[str], answer_type: str | None) -> bool:
    """Several answers match as sets: every gold answer is given and nothing else is.

    A repeated answer counts once (a reference "90,90" for two equal angles is met by "90").
    """
    if _match_all(golds, preds, answer_type):
        return True
    if len(golds) == len(preds):
        return False
    return _match_all(_dedupe(golds, answer_type), _dedupe(preds, answer_type), answer_type)


def reference_parts(gold: str | list[str], unit: str | None = None) -> list[str]:
    """The single answers of a reference (or list of references), each cleaned."""
    gold_list = [gold] if isinstance(gold, str) else list(gold)
    parts = [normalize_part(p, unit) for g in gold_list for p in split_answers(normalize_answer(g))]
    return [p for p in parts if p]


def answers_equivalent(gold: str | list[str], answer: str, unit: str | None = None, answer_type: str | None = None) -> bool:
    """Whether the extracted ``answer`` matches the reference(s), after the clean-up above. Where
    every reference answer is a plain number, an answer that is a number followed by words ("12
    grade", after "12^{th}" lost its suffix) is read as that number."""
    gold_parts = reference_parts(gold, unit)
    pred_whole = normalize_answer(answer)
    pred_parts = [p for p in (normalize_part(p, unit) for p in split_answers(pred_whole)) if p]
    if gold_parts and all(NUMBERISH_RE.match(g) for g in gold_parts):
        pred_parts = [number_in_words(p) or p for p in pred_parts]
    if not gold_parts or not pred_parts:
        return False
    if len(gold_parts) == 1 and len(pred_parts) == 1:
        return _verify_pair(gold_parts[0], pred_parts[0], answer_type)
    if _sets_match(gold_parts, pred_parts, answer_type):
        return True
    # Several answers written as one expression math-verify understands (e.g. "x \in \{1, 2\}").
    return len(gold_parts) > 1 and _verify_pair(",".join(gold_parts), pred_whole, answer_type)


# --------------------------------------------------------------------------------------------
# In-process grading
# --------------------------------------------------------------------------------------------


class _SoftTimeout(BaseException):
    """Raised by our timer; a BaseException so math-verify's ``except Exception`` lets it through."""


def extract_for(task: MathTask) -> str | None:
    """The final answer that ``task.grader`` reads from ``task.response`` (None: no answer)."""
    return locate_for(task)[0]


def locate_for(task: MathTask) -> tuple[str | None, str | None]:
    """The final answer that ``task.grader`` reads from ``task.response`` and where it was found.

    Boxes given together (``\\boxed{-2}, \\boxed{1}``) are read together, as one list, where the
    reference has several parts: several answers, or one tuple or vector of as many entries.
    """
    if task.grader == "qwen25-math":
        from transferlab.scoring.qwen_compat import qwen_extract

        return qwen_extract(task.response) or None, None
    answer, source = locate_math_answer(task.response, task.style)
    if source == "boxed":
        group = boxed_group(task.response)
        if len(group) > 1:
            parts = reference_parts(task.gold, task.unit)
            if len(parts) > 1:
                answer = ", ".join(group)
            elif len(parts) == 1 and parts[0][:1] in "([" and len(split_answers(parts[0][1:-1])) == len(group):
                answer = parts[0][0] + ", ".join(group) + parts[0][-1]
    return answer, source


def _grade_qwen_compat(task: MathTask, extracted: str | None) -> MathVerdict:
    from transferlab.scoring.qwen_compat import qwen_equal, qwen_normalize

    golds = [task.gold] if isinstance(task.gold, str) else list(task.gold)
    reference = ",".join(qwen_normalize(g) for g in golds)
    return MathVerdict(qwen_equal(extracted or "", reference), extracted, "ok" if extracted else "no_answer")


def _grade_guarded(task: MathTask) -> MathVerdict:
    extracted = source = None
    try:
        extracted, source = locate_for(task)
        if task.grader == "qwen25-math":
            return _grade_qwen_compat(task, extracted)
        if extracted is None:
            return MathVerdict(False, None, "no_answer")
        correct = answers_equivalent(task.gold, extracted, task.unit, task.answer_type)
        return MathVerdict(correct, extracted, "ok", source)
    except Exception as err:  # noqa: BLE001 - one bad answer must not stop a batch
        log.debug("math grading failed: %r", err)
        return MathVerdict(False, extracted, "error", source)


def grade_math(task: MathTask, *, timeout_s: float | None = 5.0) -> MathVerdict:
    """Grade one answer in this process; never raises (a failure gives ``status="error"``).

    In the main thread ``timeout_s`` is enforced by a ``SIGALRM`` timer: Python code is interrupted,
    a long computation inside C (a huge integer power) only when it returns. Off the main thread no
    in-process limit is possible; use :class:`MathGradingPool` for a hard limit.
    """
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not timeout_s or not usable:
        return _grade_guarded(task)

    def on_alarm(signum: int, frame: Any) -> None:
        raise _SoftTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    outer_delay, outer_interval = 0.0, 0.0
    try:
        outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, timeout_s)
        verdict = _grade_guarded(task)
    except _SoftTimeout:
        verdict = MathVerdict(False, None, "timeout")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:  # give back a timer someone else had set (e.g. pytest-timeout)
            remaining = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001), outer_interval)
    if verdict.status == "timeout" or time.monotonic() - started > timeout_s:
        # The alarm may also have been swallowed by a bare ``except`` somewhere underneath.
        verdict = MathVerdict(False, locate_math_answer(task.response, task.style)[0], "timeout")
    return verdict
