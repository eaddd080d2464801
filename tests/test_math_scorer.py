"""The math scorer: equivalences both ways, time limits, crashes, threads, and agreement with the
published verdicts on real model outputs (shared/data/math_generations, see its SOURCE.md)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from transferlab.scoring.agreement import AGREEMENT_FILES, FileAgreement, grade_file
from transferlab.scoring.math import MathTask, MathVerdict, answers_equivalent, grade_math
from transferlab.scoring.math_pool import MathGradingPool

# (reference, answer, unit, answer_type)
MUST_MATCH = [
    ("0.5", r"\frac{1}{2}", None, None),
    (r"\frac12", "1/2", None, None),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", None, None),
    ("(x+1)^2", "x^2+2x+1", None, "Expression"),
    ("25", "025", None, None),
    ("1000", "1,000", None, None),
    ("1000000", "1,000,000", None, None),
    ("10000", r"10{,}000", None, None),
    ("5", "x = 5", None, None),
    ("f(x)=2x+1", "2x+1", None, "Expression"),
    ("30", r"30^\circ", None, None),
    ("45", r"45^{\circ}", r"^{\circ}", "Numerical"),
    ("4.2", r"4.2\%", "%", "Numerical"),
    (r"\frac{600}{7}", r"\frac{600}{7} \text{ km/h}", "km/h", "Numerical"),
    ("45", r"45 \text{ minutes}", "minute", "Numerical"),
    ("166", r"166 \text{ cm}^2", "$cm^2$", "Numerical"),
    ("6", r"\$6", None, None),
    ("(0,4]", "(0, 4]", None, "Interval"),
    (r"(-\infty,-5)", "x < -5", None, "Interval"),
    (r"[\frac{1}{2},8]", r"\left[\frac12, 8\right]", None, "Interval"),
    ("(2,4)", r"\left( 2, 4 \right)", None, "Tuple"),
    ("(1,2),(3,4)", "(3, 4), (1, 2)", None, "Tuple"),
    ("1,3,5", r"\{5, 3, 1\}", None, "Numerical"),
    ("1,3,5", r"1, 3, \text{ and } 5", None, "Numerical"),
    ("2,-2", r"\pm 2", None, "Numerical"),
    (r"1+\sqrt{2},1-\sqrt{2}", r"1 \pm \sqrt{2}", None, "Numerical"),
    (["3", "5"], "5, 3", None, None),
    (r"\text{odd}", r"\text{odd}", None, None),
    ("3", "3.", None, None),
    # Vectors and matrices: entry by entry, equal entries written differently (issue #20, item 1).
    (r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", None, None),
    (r"\begin{pmatrix} \frac{1}{3} \\ 5 \end{pmatrix}", r"\begin{pmatrix} 1/3 \\ 5 \end{pmatrix}", None, None),
    (r"\begin{pmatrix} 0.25 & 2 \\ -1 & 7 \end{pmatrix}", r"\begin{bmatrix} \frac14 & 2 \\ -1 & 7 \end{bmatrix}", None, None),
    (r"\begin{pmatrix} 6 \\ 8 \end{pmatrix}", r"\left(\begin{array}{c} 6 \\ 8 \end{array}\right)", None, None),
    # Ordinals and words around a number where the reference is a number (item 4).
    ("9", r"9^{\text{th}} \text{ grade}", None, None),
    ("9", "9th", None, None),
    ("31", r"31^{st}", None, None),
    ("17", "17 students", None, None),
]

MUST_NOT_MATCH = [
    ("2", "3", None, None),
    ("0.5", "0.25", None, None),
    ("25", "250", None, None),
    ("10", "1000", None, None),  # no percent leniency without a percent sign
    ("1000", "1,001", None, None),
    ("2x+1", "2x-1", None, "Expression"),
    ("1,3,5", "1, 3", None, "Numerical"),
    ("1,3", "1, 3, 5", None, "Numerical"),
    ("1,2", "12", None, "Numerical"),
    ("5", "5, 6", None, None),
    (["3", "5"], "3", None, None),
    ("(1,2)", "(2,1)", None, "Tuple"),
    ("(1,2),(3,4)", "(1, 2), (4, 3)", None, "Tuple"),
    ("[0,4]", "(0,4)", None, "Interval"),
    ("(0,4]", "[0,4)", None, "Interval"),
    # Order matters inside vectors and matrices (item 1).
    (r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", r"\begin{pmatrix} -1 \\ 3 \end{pmatrix}", None, None),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", None, None),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \\ 0 \end{pmatrix}", None, None),
    # Words go only from a number, and math words never (item 4).
    ("2", "2 pi", None, None),
    ("9", "9th grade and 10th grade", None, None),
    (r"\text{ninth grade}", "9", None, None),
]

PATHOLOGICAL = r"The answer is $\boxed{9^{9^{9^{9}}}}$."


@pytest.mark.parametrize(("gold", "answer", "unit", "answer_type"), MUST_MATCH)
def test_equivalent(gold, answer, unit, answer_type) -> None:
    assert answers_equivalent(gold, answer, unit, answer_type)


@pytest.mark.parametrize(("gold", "answer", "unit", "answer_type"), MUST_NOT_MATCH)
def test_not_equivalent(gold, answer, unit, answer_type) -> None:
    assert not answers_equivalent(gold, answer, unit, answer_type)


def test_grade_math_statuses() -> None:
    assert grade_math(MathTask(r"so $\boxed{\frac{1}{2}}$", "0.5")) == MathVerdict(True, r"\frac{1}{2}", "ok", "boxed")
    assert grade_math(MathTask(r"\boxed{3}", "2")) == MathVerdict(False, "3", "ok", "boxed")
    assert grade_math(MathTask("I give up", "2")) == MathVerdict(False, None, "no_answer")
    assert grade_math(MathTask("Janet earns 18.\n#### 18", "18", style="gsm8k")) == MathVerdict(True, "18", "ok", "hashes")
    assert grade_math(MathTask("so the answer is 18.", "18", style="gsm8k")) == MathVerdict(True, "18", "ok", "phrase")
    assert grade_math(MathTask("she had 9, then 18 left", "18", style="gsm8k")) == MathVerdict(True, "18", "ok", "last_number")


@pytest.mark.parametrize(
    ("response", "gold", "correct", "extracted"),
    [
        # Boxes given together are read together where the reference has several parts (item 3).
        (r"The solutions are $\boxed{-2}$, $\boxed{1}$.", "1, -2", True, "-2, 1"),
        (r"So $x=\boxed{-2}$ and $y=\boxed{1}$.", "(-2, 1)", True, "(-2, 1)"),
        (r"So $x=\boxed{1}$ and $y=\boxed{-2}$.", "(-2, 1)", False, "(1, -2)"),
        (r"The solutions are $\boxed{-2}$, $\boxed{1}$.", "1, -2, 3", False, "-2, 1"),
        # ... and not where it has one: the last box is the answer.
        (r"Either $\boxed{-2}$ or $\boxed{1}$.", "1", True, "1"),
        # A placeholder after a real box never replaces it (item 2).
        (r"Hence \boxed{24}. I was asked to write \boxed{your\_answer}.", "24", True, "24"),
        (r"Format: \boxed{answer}", "24", False, None),
    ],
)
def test_grade_math_reads_the_final_answer(response: str, gold: str, correct: bool, extracted: str | None) -> None:
    verdict = grade_math(MathTask(response, gold))
    assert (verdict.correct, verdict.extracted) == (correct, extracted)


def test_grade_math_soft_timeout_in_main_thread() -> None:
    started = time.monotonic()
    verdict = grade_math(MathTask(PATHOLOGICAL, "5"), timeout_s=1.0)
    assert verdict.status == "timeout" and not verdict.correct
    assert time.monotonic() - started < 60  # the answer alone would run for hours


class CrashingGold:
    """A reference whose use kills the worker process (stands in for a segfault in a C library)."""

    def __iter__(self):
        os._exit(3)


@pytest.mark.slow
def test_pool_timeout_and_crash_only_hit_their_task() -> None:
    good = MathTask(r"\boxed{\frac{1}{2}}", "0.5")
    bad = MathTask(r"\boxed{3}", "2")
    tasks = [good, MathTask(PATHOLOGICAL, "5"), bad, MathTask(r"\boxed{1}", CrashingGold()), good]  # type: ignore[arg-type]  # a gold that breaks the worker on purpose
    with MathGradingPool(workers=2, timeout_s=2.0) as grader:
        started = time.monotonic()
        verdicts = grader.grade(tasks)
        elapsed = time.monotonic() - started
        assert [v.status for v in verdicts] == ["ok", "timeout", "ok", "error", "ok"]
        assert [v.correct for v in verdicts] == [True, False, False, False, True]
        assert elapsed < 60  # bounded by the limit (the pathological answer alone would run for hours)
        assert grader.grade([good, bad]) == [MathVerdict(True, r"\frac{1}{2}", "ok", "boxed"), MathVerdict(False, "3", "ok", "boxed")]


@pytest.mark.slow
def test_pool_hard_kill_without_soft_timer() -> None:
    with MathGradingPool(workers=1, timeout_s=1.5, soft_timeout_fraction=None) as grader:  # only the parent's kill can stop the worker
        started = time.monotonic()
        verdicts = grader.grade([MathTask(PATHOLOGICAL, "5"), MathTask(r"\boxed{7}", "7")])
        assert [v.status for v in verdicts] == ["timeout", "ok"]
        assert verdicts[1].correct
        assert time.monotonic() - started < 60  # bounded by the hard kill


@pytest.fixture(scope="module")
def grader():
    with MathGradingPool(workers=2, timeout_s=5.0) as pool:
        yield pool


def test_pool_from_four_threads_matches_serial(grader: MathGradingPool) -> None:
    tasks = [MathTask(rf"\boxed{{{i % 7}/{i % 5 + 1}}}", f"{i % 7}/{i % 5 + 1}" if i % 3 else "0.123") for i in range(240)]
    serial = [grade_math(t) for t in tasks]
    slices = [tasks[i::4] for i in range(4)]
    out: dict[int, list[MathVerdict]] = {}

    def run(k: int) -> None:
        out[k] = grader.grade(slices[k])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(out) == [0, 1, 2, 3]
    for k in range(4):
        assert out[k] == serial[k::4]
    assert grader.grade([]) == []


# --------------------------------------------------------------------------------------------
# Agreement with the published verdicts (Qwen2.5-Math grader) on real outputs
# --------------------------------------------------------------------------------------------

# Disagreements read by a person, where the published verdict is judged wrong (row idx, sample):
# "their_bug" names the Qwen2.5-Math grader behaviour behind it. Our scorer never sees this table.
REVIEWED_WRONG_LABELS = {
    "math_cot_100.jsonl": {
        (72, 7): "gold 10{,}000 vs 10000: the published grader misses the {,} separator",
    },
    "Meta-Llama-3.1-8B-Instruct": {
        (81, 0): "f(x)=1/x answered 1/x: published marks False",
        (98, 0): "truncated response with no final answer; published takes the last number in the text",
        (155, 0): r"(-7,-1) vs \left( -7, \ -1\right): published marks False",
        (159, 0): "4 reference angles, 3 given (one wrong): published marks True",
        (187, 0): "all values of k: {8,4} vs 4,8; published is order-sensitive",
        (204, 0): "p(x)=x^2-2x+2 answered x^2-2x+2: published marks False",
        (237, 0): "all x: {5,-2} vs -2,5; published is order-sensitive",
        (243, 0): r"(x,y)=(10^3,10) vs \left(1000, \ 10\right): published marks False",
        (260, 0): "3 values required, only 0 given: published marks True",
        (306, 0): "2 values required, only 2 given: published marks True",
        (361, 0): "gold 100, answer 10000: published percent leniency (x100) marks True",
        (381, 0): "{1/3,1,1/9} vs {1/3,1/9,1/27}: published marks True",
    },
    "Qwen2.5-Math-7B-Instruct": {
        (31, 0): "both angles are 90 degrees; the response says so and boxes 90",
        (68, 0): "two functions required, one given: published marks True",
        (114, 0): r"f(x)=x \text{ or } f(x)=-x: published glues the text together",
        (132, 0): "(-inf,-5) answered k < -5: published marks False",
        (148, 0): r"min and max 1 \text{ and } 5: published reads '15'",
        (157, 0): r"2 \text{ and } -6-4\sqrt{2}: published reads only the first",
        (160, 0): "same four pairs in another order: published is order-sensitive",
        (187, 0): r"4 \text{ and } 8: published reads '48'",
        (193, 0): "two values required, one given: published marks True",
        (203, 0): "same three values in another order: published is order-sensitive",
        (207, 0): "same three points, 0.01 for 1/100, other order: published marks False",
        (216, 0): r"100 \text{ and } 0.01: published reads '1000.01'",
        (231, 0): r"two pairs joined by \text{ and }: published glues them",
        (237, 0): r"-2 \text{ and } 5: published reads '-25'",
        (243, 0): "(1000, 10) for x=10^3, y=10: published marks False",
        (247, 0): "f(x)=x+22 answered x+22: published marks False",
        (278, 0): "same three areas in another order: published is order-sensitive",
        (288, 0): "same two values in another order: published is order-sensitive",
        (289, 0): r"two pairs joined by \text{ and }: published glues them",
        (301, 0): r"-9 \text{ and } -1: published reads '-9-1'",
        (303, 0): r"two triples joined by \text{ and }: published glues them",
        (348, 0): "gold 10, answer 1000: published percent leniency (x100) marks True",
        (386, 0): "{1/3,1,9} vs 1/3,1,1/3: published marks True",
        (556, 0): r"two pairs joined by \text{ and }: published glues them",
    },
}

# (minimum raw agreement with the published verdicts, minimum agreement with the reviewed labels)
THRESHOLDS = {
    "math_cot_100.jsonl": (0.995, 0.995),
    "Meta-Llama-3.1-8B-Instruct": (0.98, 0.98),
    # The published grader is order-sensitive and glues "\text{ and }" lists together: about 20 of
    # its 675 verdicts here are wrong, so raw agreement cannot reach 98% without copying them
    # (``--math-grader qwen25-math`` does copy them, apart: tests/test_qwen_compat.py).
    "Qwen2.5-Math-7B-Instruct": (0.96, 0.98),
}


@pytest.fixture(scope="module")
def agreement(shared_data: Path, grader: MathGradingPool) -> dict[str, FileAgreement]:
    return {r.name: r for r in (grade_file(shared_data / name, grader) for name in AGREEMENT_FILES)}


@pytest.mark.parametrize("name", list(THRESHOLDS))
def test_agreement_with_published_verdicts(agreement: dict[str, FileAgreement], name: str) -> None:
    result = agreement[name]
    raw_min, reviewed_min = THRESHOLDS[name]
    reviewed = REVIEWED_WRONG_LABELS[name]
    unreviewed = [d for d in result.disagreements if (d.index, d.sample) not in reviewed]
    # A reviewed item where we now agree with the published (wrong) label counts against us.
    flipped = set(reviewed) - {(d.index, d.sample) for d in result.disagreements}
    reviewed_agree = (result.n - len(unreviewed) - len(flipped)) / result.n
    assert result.n in (800, 675)
    assert result.agreement >= raw_min, (result.agreement, unreviewed)
    assert reviewed_agree >= reviewed_min, (reviewed_agree, unreviewed, sorted(flipped))
    assert all(d.status in ("ok", "no_answer") for d in result.disagreements)
