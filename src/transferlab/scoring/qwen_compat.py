"""Compatibility grading: the verdicts of the Qwen2.5-Math evaluation harness (``grader="qwen25-math"``).

Many math-RL papers report numbers made by the Qwen2.5-Math evaluation harness (and by the forks
that copied it: PRIME, SimpleRL, ...). Its grader judges some answers wrongly, and its numbers can
only be compared with numbers graded the same way. This module reproduces what that grader does,
written anew from its observable behaviour and checked against its published verdicts and extracted
answers (``pred``) on the real outputs in ``shared/data/math_generations``. It is never the
default: transferlab's own scorer (:mod:`transferlab.scoring.math`) is.

What it reproduces, each judged wrong by a person on the real outputs (``tests/test_math_scorer.py``
lists the cases):

- answers joined by ``\\text{ and }`` are glued together ("1 \\text{ and } 5" reads "15"): the
  ``\\text{}`` wrapper is dropped, then every "and" and every space is deleted (the clean-up runs
  twice, as in the harness);
- a list of plain numbers is one number with its commas dropped ("-6,-8,-10" is not "-10,-8,-6",
  "5,1" reads 51), and two numbers are decided by value alone;
- bracketed lists ("(3,2),(3,-2)") are compared element by element, in order;
- another list reaching the symbolic check is compared by its first element only (the harness's
  LaTeX parser stops at the first top-level comma), so a missing second solution passes;
- a number also equals the reference times 100 or divided by 100 (percent leniency);
- ``f(x)=`` is dropped from an answer only when the left side has at most two characters.

Where it differs from the harness: the unit words it deletes are a shorter list of our own; number
words are read only from "zero" to "twenty" (the harness uses ``word2number``); the symbolic step
uses math-verify's LaTeX parser (``latex2sympy2_extended``) cut at the first top-level comma,
because the harness's parsers pin an ANTLR runtime that clashes with math-verify's; the harness's
last fallback, sympy's ``parse_expr`` (which ``eval``s the model's text), is left out. None of
these changes a verdict on the real outputs but one (``python -m transferlab.scoring.agreement
--grader qwen25-math``: 100%, 100% and 99.85%). Use it through
:class:`~transferlab.scoring.math.MathGradingPool`, which puts a hard time limit on every answer.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["qwen_equal", "qwen_extract", "qwen_normalize"]

_NUMBER_RE = re.compile(r"-?\d*\.?\d+")


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------


def _after_last_box(text: str) -> str:
    """The answer after the last "boxed": its brace group, or the text up to the next ``$``."""
    tail = text.split("boxed")[-1]
    if not tail:
        return ""
    if tail[0] != "{":
        return tail.split("$")[0].strip()
    depth, out = 1, []
    for ch in tail[1:]:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        out.append(ch)
    return "".join(out)


def qwen_extract(text: str) -> str:
    """The harness's extracted, normalised answer to a math question ("" when it finds none).

    Order: Minerva's "final answer is $...$. I hope", the last "boxed", the text after the last "he
    answer is" or "final answer is", else the last number in the text (commas removed).
    """
    text = text.replace("\u043a\u0438", "")  # the step tag of some reward-model datasets
    if "final answer is $" in text and "$. I hope" in text:
        pred = text.split("final answer is $", 1)[1].split("$. I hope", 1)[0].strip()
    elif "boxed" in text:
        pred = _after_last_box(text)
    elif "he answer is" in text:
        pred = text.split("he answer is")[-1].strip()
    elif "final answer is" in text:
        pred = text.split("final answer is")[-1].strip()
    else:
        numbers = _NUMBER_RE.findall(text.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    pred = re.sub(r"\n\s*", "", pred)
    if pred.startswith(":"):
        pred = pred[1:]
    if pred.endswith("."):
        pred = pred[:-1]
    if pred.endswith("/"):
        pred = pred[:-1]
    # The harness cleans the extracted answer twice (once in extraction, once after): the second
    # pass removes what the first one uncovered ("\\text { and }" -> "\\text{}" -> "").
    return qwen_normalize(qwen_normalize(pred))


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

# Unit words deleted where they stand alone (between non-word characters), plural forms included.
_UNIT_WORDS = (
    "degree",
    "deg",
    "mph",
    "kmph",
    "kmh",
    "ft",
    "feet",
    "foot",
    "inch",
    "inches",
    "yard",
    "mile",
    "km",
    "cm",
    "mm",
    "meter",
    "metre",
    "m",
    "kg",
    "g",
    "gm",
    "lb",
    "liter",
    "litre",
    "gallon",
    "hour",
    "hr",
    "minute",
    "min",
    "second",
    "sec",
    "day",
    "week",
    "month",
    "year",
    "yr",
    "percent",
    "unit",
    "square",
    "sq",
    "cubic",
    "cube",
    "acre",
    "hectare",
    "are",
    "ohm",
    "rupee",
    "rs",
    "am",
    "pm",
    "s",
    "t",
    "a",
    "h",
    "o",
    "d",
    "c",
    "l",
)
_UNIT_RES = [re.compile(r"(^|\W)" + re.escape(w) + r"($|\W)") for w in (*_UNIT_WORDS, *(w + "s" for w in _UNIT_WORDS))]
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


def _fix_fracs(s: str) -> str:
    r"""``\frac12`` -> ``\frac{1}{2}``, ``\frac1{72}`` -> ``\frac{1}{72}`` (braced ones untouched)."""
    pieces = s.split("\\frac")
    out = pieces[0]
    for piece in pieces[1:]:
        out += "\\frac"
        if piece.startswith("{"):
            out += piece
        elif len(piece) < 2:
            return s
        elif piece[1] != "{":
            out += "{" + piece[0] + "}{" + piece[1] + "}" + piece[2:]
        else:
            out += "{" + piece[0] + "}" + piece[1:]
    return out


def _fix_slash(s: str) -> str:
    """``3/4`` (two integers) -> ``\\frac{3}{4}``."""
    parts = s.split("/")
    if len(parts) == 2 and re.fullmatch(r"-?\d+", parts[0]) and re.fullmatch(r"-?\d+", parts[1]):
        if s == f"{int(parts[0])}/{int(parts[1])}":
            return "\\frac{" + parts[0] + "}{" + parts[1] + "}"
    return s


def qwen_normalize(s: str, *, remove_units: bool = True) -> str:
    """The harness's clean-up of an answer or reference string (the ``pred`` field of its outputs)."""
    s = str(s).strip().replace("\n", "").rstrip(".").replace("\\!", "")
    s = re.sub(r"\\begin\{array\}\{.*?\}", r"\\begin{pmatrix}", s)
    s = re.sub(r"\\end\{array\}", r"\\end{pmatrix}", s).replace("bmatrix", "pmatrix")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\{", "{").replace("\\}", "}")
    without_text = re.sub(r"\\text{.*?}$", "", s).strip()  # a trailing \text{unit}
    if without_text and without_text != s:
        s = without_text
    if remove_units:
        for _ in range(2):
            for pattern in _UNIT_RES:
                cut = pattern.sub(r"\1\2", s)
                if cut:
                    s = cut
    s = s.replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    if s.strip().lower() in _NUMBER_WORDS:
        s = str(_NUMBER_WORDS[s.strip().lower()])
    s = re.sub(r"\\text\{(.*?)\}", r"\1", s)
    for prefix in ("x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"):
        s = s.replace(prefix, "")
    s = s.replace("\\emptyset", "{}").replace("(-\\infty,\\infty)", "\\mathbb{R}")
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    s = s.replace("infinity", "\\infty")
    if "\\infty" not in s:
        s = s.replace("inf", "\\infty")
    s = s.replace("and", "").replace("\\mathbf", "")
    s = re.sub(r"\\mbox{.*?}", "", s)
    if "j" in s and "i" not in s:
        s = s.replace("j", "i")
    s = re.sub(r"(\d+)\.0*([^\d])", r"\1\2", s)
    s = re.sub(r"(\d+)\.0*$", r"\1", s)
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = re.sub(r"\\sqrt(\w+)", r"\\sqrt{\1}", s).replace(" ", "")
    return _fix_slash(_fix_fracs(s))


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _number(s: str) -> float | None:
    """A plain number ("1,000" reads 1000; "5%" reads 0.05), else ``None``."""
    s = s.replace(",", "")
    try:
        return float(s)
    except ValueError:
        pass
    if s.endswith("%"):
        s = s[:-1].rstrip("\\")
        try:
            return float(s) / 100
        except ValueError:
            pass
    return None


def _close(a: float, b: float) -> bool:
    return math.isclose(b, a, rel_tol=1e-4)


def _numbers_equal(p: float, r: float) -> bool:
    return any(_close(p, candidate) for candidate in (r / 100, r, r * 100))


def _is_list(s: str) -> bool:
    return re.match(r"(\(|\[).+(\)|\])", s) is not None


def _is_matrix(s: str) -> bool:
    return s.startswith(("\\begin{pmatrix}", "\\begin{bmatrix}")) and s.endswith(("\\end{pmatrix}", "\\end{bmatrix}"))


def _matrix_cells(s: str) -> list[list[str]]:
    body = s[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")]
    return [[cell for cell in line.strip().split("&")] for line in body.split("\\\\") if line.strip()]


def _first_top_level(s: str) -> str:
    """``s`` up to its first comma outside brackets: where a prefix-parsing LaTeX parser stops."""
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            return s[:i]
    return s


def _sympy(s: str) -> Any:
    """A sympy object for ``s`` read as LaTeX, else the string itself.

    The harness then tries sympy's ``parse_expr``, which ``eval``s the model's text; that step is
    left out here (no verdict on the real outputs depends on it).
    """
    from latex2sympy2_extended import latex2sympy

    if "{,}" in s:  # the harness's parsers do not read this thousands separator
        return s
    for text in (s.replace("\\\\", "\\"), s):
        try:
            return latex2sympy(_first_top_level(text))
        except Exception:  # noqa: BLE001 - any parse failure means "try the next reading"
            pass
    return s


def _symbolic_equal(a_text: str, b_text: str) -> bool:
    from sympy import N, simplify

    a, b = _sympy(a_text), _sympy(b_text)
    checks = (
        lambda: str(a) == str(b) or a == b,
        lambda: a.equals(b) or simplify(a - b) == 0,
        lambda: (abs(a.lhs - a.rhs)).equals(abs(b.lhs - b.rhs)),
        lambda: _close(float(N(a)), float(N(b))),
        lambda: a.shape == b.shape and a.applyfunc(lambda x: round(x, 3)).equals(b.applyfunc(lambda x: round(x, 3))),
    )
    for check in checks:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - a failed check is a "no", as in the harness
            continue
    return False


def _to_pmatrix(ref: str) -> str:
    rows = re.findall(r"\{.*,.*\}", ref.strip())
    return ", ".join("\\begin{pmatrix}" + m.strip("{}").replace(",", "\\") + "\\end{pmatrix}" for m in rows)


def qwen_equal(pred: str | None, ref: str | None) -> bool:
    """The harness's verdict on a normalised answer against a normalised reference."""
    if pred is None or ref is None:
        return False
    if pred.strip().lower() == ref.strip().lower():
        return True
    if ref in ("A", "B", "C", "D", "E"):  # a choice letter: the last standalone A-E of the answer
        letters = re.findall(r"\b(A|B|C|D|E)\b", pred.strip("\n").rstrip(".").rstrip("/").strip(" ").lstrip(":").upper())
        if letters and letters[-1] == ref:
            return True
    p_num, r_num = _number(pred), _number(ref)
    if p_num is not None and r_num is not None:  # two numbers: decided here, nothing else is tried
        return _numbers_equal(p_num, r_num)  # ("1,3" reads 13, so a list of integers is one number)
    if not pred:
        return False
    pred, ref = pred.strip(), ref.strip()
    if "pmatrix" in pred and "pmatrix" not in ref:
        ref = _to_pmatrix(ref)
    p, r = pred, ref
    if (p.startswith("[") and p.endswith("]") and not (r.startswith("(") and r.endswith(")"))) or (
        p.startswith("(") and p.endswith(")") and not (r.startswith("[") and r.endswith("]"))
    ):
        p, r = p.strip("[]()"), r.strip("[]()")
    p, r = re.sub(r"[{}()]", "", p), re.sub(r"[{}()]", "", r)
    if p.lower() == r.lower():
        return True
    if _is_list(pred) and _is_list(ref):
        pred_parts, ref_parts = pred[1:-1].split(","), ref[1:-1].split(",")
        return len(pred_parts) == len(ref_parts) and all(qwen_equal(a, b) for a, b in zip(pred_parts, ref_parts))
    if _is_matrix(pred) and _is_matrix(ref):
        pm, rm = _matrix_cells(pred), _matrix_cells(ref)
        return len(pm) == len(rm) and all(len(pr) == len(rr) and all(qwen_equal(a, b) for a, b in zip(pr, rr)) for pr, rr in zip(pm, rm))
    if pred.count("=") == 1 and ref.count("=") == 1:
        lhs_p, rhs_p = pred.split("=")
        lhs_r, rhs_r = ref.split("=")
        p_eq, r_eq = f"{lhs_p.strip()} - ({rhs_p.strip()})", f"{lhs_r.strip()} - ({rhs_r.strip()})"
        return _symbolic_equal(p_eq, r_eq) or _symbolic_equal(f"-({p_eq})", r_eq)
    if pred.count("=") == 1 and len(pred.split("=")[0].strip()) <= 2 and "=" not in ref:
        return qwen_equal(pred.split("=")[1], ref)
    if ref.count("=") == 1 and len(ref.split("=")[0].strip()) <= 2 and "=" not in pred:
        return qwen_equal(pred, ref.split("=")[1])
    return _symbolic_equal(pred, ref)
