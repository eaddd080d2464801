"""Answer extraction and answer-string clean-up (pure functions, hand-made cases)."""

from __future__ import annotations

import pytest

from transferlab.scoring.extract import (
    FALLBACK_SOURCES,
    answer_phrase,
    boxed_group,
    extract_math_answer,
    gsm8k_hashes,
    last_boxed,
    last_number,
    locate_math_answer,
)
from transferlab.scoring.normalize import normalize_answer, normalize_part, split_answers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so $\boxed{5}$.", "5"),
        (r"\boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{\frac{\sqrt{3}}{2}} done", r"\frac{\sqrt{3}}{2}"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\fbox{42}", "42"),
        (r"\boxed{3} and finally \fbox{4}", "4"),
        (r"$\boxed 5$", "5"),
        ("\\boxed 7.\nMore text", "7"),
        (r"\boxed{\boxed{9}}", "9"),
        (r"\boxed{ 12 }", "12"),
        (r"answer \boxed{3} (put it in \boxed{})", "3"),
        (r"\boxed{6} and then \boxed{7", "6"),
        ("no box here", None),
        (r"\boxed{}", None),
        (r"\boxed{unclosed", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


def test_boxed_command_must_be_whole_word() -> None:
    assert last_boxed(r"\boxedfoo{3}") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Janet pays 18.\n#### 18", "18"),
        ("#### 1,234", "1234"),
        ("#### $1,000.", "1000"),
        ("first\n#### 3\nthen\n#### 4", "4"),
        ("no hashes", None),
    ],
)
def test_gsm8k_hashes(text: str, expected: str | None) -> None:
    assert gsm8k_hashes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She has 3 apples and 12 pears.", "12"),
        ("It costs $1,234,567 in total.", "1234567"),
        ("The temperature is -4.5 degrees.", "-4.5"),
        ("about .5 of it", ".5"),
        ("nothing numeric", None),
    ],
)
def test_last_number(text: str, expected: str | None) -> None:
    assert last_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The final answer is $42$.", "42"),
        ("So the answer is: 7", "7"),
        ("Therefore, the answer is \\(\\frac{1}{2}\\).", r"\frac{1}{2}"),
        ("The answer is **12**.", "12"),
        ("no phrase", None),
    ],
)
def test_answer_phrase(text: str, expected: str | None) -> None:
    assert answer_phrase(text) == expected


def test_boxed_style_does_not_guess_a_number() -> None:
    assert extract_math_answer("I think it is 5 or 6", "boxed") is None
    assert extract_math_answer("The final answer is 5.", "boxed") == "5"
    assert extract_math_answer(r"The answer is 4. \boxed{5}", "boxed") == "5"


def test_gsm8k_fallback_order() -> None:
    assert extract_math_answer(r"#### 3 but \boxed{4}", "gsm8k") == "4"
    assert extract_math_answer("We get 5 apples.\n#### 1,200\nchecked 7 times", "gsm8k") == "1200"
    assert extract_math_answer("So the answer is 18 dollars. Check: 3 * 6", "gsm8k") == "18"
    assert extract_math_answer("She had 3, bought 2,500 more", "gsm8k") == "2500"
    assert extract_math_answer("no digits at all", "gsm8k") is None


def test_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown extraction style"):
        extract_math_answer("x", "multiple-choice")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,3,5", ["1", "3", "5"]),
        ("(1,2),(3,4)", ["(1,2)", "(3,4)"]),
        ("(0,4],[5,6)", ["(0,4]", "[5,6)"]),
        (r"\{1, 2\}", ["1", "2"]),
        (r"\frac{1}{2}, \frac{3}{4}", [r"\frac{1}{2}", r"\frac{3}{4}"]),
        ("1,234,567", ["1,234,567"]),
        (r"1 \pm \sqrt{2}", [r"1 + \sqrt{2}", r"1 - \sqrt{2}"]),
        (r"(-\infty,0)\cup\{1\}", [r"(-\infty,0)\cup\{1\}"]),
    ],
)
def test_split_answers(text: str, expected: list[str]) -> None:
    assert split_answers(text) == expected


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("025", None, "25"),
        ("x = 5", None, "5"),
        ("f(x) = 2x+1", None, "2x+1"),
        (r"m_{\max}=n^{2}-n-1", None, "n^{2}-n-1"),
        ("1,000", None, "1000"),
        (r"\frac{600}{7} \text{ km/h}", "km/h", r"\frac{600}{7}"),
        (r"45 \text{ minutes}", "minute", "45"),
        (r"166 \text{ cm}^2", "$cm^2$", "166"),
        ("12 cm", None, "12"),
        ("2n + m", None, "2n + m"),
        (r"\text{odd}", None, "odd"),
        ("0.05", None, "0.05"),
        ("x \\le 5", None, "x \\le 5"),
    ],
)
def test_normalize_part(text: str, unit: str | None, expected: str) -> None:
    assert normalize_part(text, unit) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$30^\\circ$", "30"),
        (r"4.2\%", "4.2"),
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"10{,}000", "10000"),
        (r"900,\!000,\!000", "900000000"),
        (r"\$6", "6"),
        (r"1 \text{ and } 5", "1,5"),
        (r"f(x)=x \text{ or } f(x)=-x", "f(x)=x,f(x)=-x"),
        ("\\(7\\).", "7"),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


# -- placeholders, boxes given together, answer phrases (issue #20, items 2, 3, 5) -------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        r"\boxed{your_answer}",
        r"\boxed{your\_answer}",
        r"\boxed{answer}",
        r"\boxed{...}",
        r"\boxed{\text{Your Answer}}",
        r"\boxed{\ldots}",
        r"$\boxed{final answer}$",
    ],
)
def test_a_placeholder_quoted_from_the_prompt_is_not_an_answer(placeholder: str) -> None:
    # An earlier real box stands; a placeholder alone is no answer.
    assert last_boxed(rf"The count is \boxed{{14}}. (Format: {placeholder})") == "14"
    assert extract_math_answer(f"I will write {placeholder} at the end.", "boxed") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"The roots are \boxed{-2}, \boxed{1}.", ["-2", "1"]),
        (r"so $\boxed{3}$ and $\boxed{7}$", ["3", "7"]),
        (r"$x = \boxed{4}$, $y=\boxed{-1}$", ["4", "-1"]),
        (r"\boxed{5} \text{ or } \boxed{6}", ["5", "6"]),
        (r"First \boxed{2}. Checking again, the answer is \boxed{9}", ["9"]),
        (r"\boxed{8}, \boxed{your_answer}", ["8"]),
        ("no box", []),
    ],
)
def test_boxes_given_together(text: str, expected: list[str]) -> None:
    assert boxed_group(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The final answer is $42$.", "42"),
        ("So the answer is: 7", "7"),
        ("**Final Answer:** 12 apples", "12 apples"),
        ("The answer is $5$ because the sum of the digits is odd.", "5"),
        ("the final answer is:\n\n$$\n3\\sqrt{2}\n$$", "3\\sqrt{2}"),
        ("the answer is all real numbers", "all real numbers"),
        # A sentence is not an answer span, however many numbers it holds.
        ("Hmm, so the answer is wrong, or perhaps I made a mistake in assuming that x=46° is the only solution?", None),
        ("The answer is probably bigger than 3 but I need to check the remaining cases", None),
        # An answer attributed to someone else is not the model's.
        ("My result: 9.\n**Reference Answer:** 4", None),
        ("The answer is 9. The expected answer is 4", "9"),
        ("So the answer is 9. Hmm, the answer is supposed to be 4", "9"),
    ],
)
def test_answer_phrase_takes_a_short_span(text: str, expected: str | None) -> None:
    assert answer_phrase(text) == expected


def test_locate_says_where_the_answer_came_from() -> None:
    assert locate_math_answer(r"so \boxed{4}", "boxed") == ("4", "boxed")
    assert locate_math_answer("The answer is 4.", "boxed") == ("4", "phrase")
    assert locate_math_answer("Total: 12\n#### 12", "gsm8k") == ("12", "hashes")
    assert locate_math_answer("she has 3, then 12", "gsm8k") == ("12", "last_number")
    assert locate_math_answer("nothing", "boxed") == (None, None)
    assert {"phrase", "last_number"} == FALLBACK_SOURCES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # LaTeX row breaks survive; every matrix environment becomes a pmatrix.
        (r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}"),
        (r"\begin{bmatrix} 1 & 0 \\ 0 & 1 \end{bmatrix}", r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}"),
        (r"\left(\begin{array}{cc} 5 & 6 \\ 7 & 8 \end{array}\right)", r"\begin{pmatrix} 5 & 6 \\ 7 & 8 \end{pmatrix}"),
        (r"\begin{pmatrix} 2\\ \frac{1}{3}\end{pmatrix}", r"\begin{pmatrix} 2\\ \frac{1}{3}\end{pmatrix}"),
        # Outside a matrix a row break is only spacing, as before.
        (r"x = 1 \\ y = 2", "x = 1   y = 2"),
    ],
)
def test_matrix_rows_survive_the_clean_up(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [(r"12^{\text{th}} \text{ grade}", "12"), ("12th", "12"), ("21^{st}", "21"), (r"3^\text{rd}", "3"), ("2nd place", "2 place")],
)
def test_ordinal_suffixes_go(text: str, expected: str) -> None:
    assert normalize_part(text) == expected
