"""Clean-up of a math answer string before it is compared (shared by references and responses).

Pure string functions, no sympy: :func:`normalize_answer` cleans a whole answer,
:func:`split_answers` cuts it into single answers at top-level commas, :func:`normalize_part` cleans
one single answer, and :func:`number_in_words` reads a number out of words around it ("12th
grade") where the reference is a plain number.

Matrices and vectors keep their LaTeX row breaks (``\\\\``) and every matrix environment
(``bmatrix``, ``vmatrix``, ``smallmatrix``, ``array``...) is written as a ``pmatrix``, so that
math-verify reads each one as a matrix and compares it entry by entry, in order.
"""

from __future__ import annotations

import re

__all__ = ["NUMBERISH_RE", "normalize_answer", "normalize_part", "number_in_words", "remove_unit", "split_answers"]

_MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mbox|mathbf|operatorname)\s*\{([^{}]*)\}")
_CONNECTIVE_RE = re.compile(r"\s*(?:\\(?:text|mbox)\{\s*(?:and|or|,)\s*\}|\band\b|\bor\b|;)\s*")
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree")
_PERCENT_RE = re.compile(r"\\?%")
# LaTeX spacing becomes a space; a row break ``\\`` is kept (matrices need it), see _rows_outside_matrices.
_SPACING_RE = re.compile(r"\\\\|\\[,;: ]|\\q?quad\b|~")
_MATRIX_ENV_RE = re.compile(r"\\begin\{(?:[pbBvV]|small)?matrix\}|\\begin\{array\}\s*\{[^{}]*\}")
_MATRIX_END_RE = re.compile(r"\\end\{(?:[pbBvV]|small)?matrix\}|\\end\{array\}")
_MATRIX_DELIMS_RE = re.compile(r"\\left\s*[(\[|]\s*(\\begin\{pmatrix\}.*?\\end\{pmatrix\})\s*\\right\s*[)\]|]", re.DOTALL)
_MATRIX_RE = re.compile(r"\\begin\{pmatrix\}.*?\\end\{pmatrix\}", re.DOTALL)
_THOUSANDS_BRACE_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,|\\!)(?=\d{3})")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LEADING_ZERO_RE = re.compile(r"(?<![\d.])0+(?=\d)")
# "x =", "f(x) =", "m_{\max} =", "\angle A =", "(a, b) =": a name (subscript, arguments) and "=".
_PREFIX_RE = re.compile(r"^\s*(?:\\[A-Za-z]+\s*)?[A-Za-z]?(?:_\{[^{}]*\}|_\w)?(?:\([^()=]*\))?\s*=(?![=<>])")
_TRAILING_TEXT_RE = re.compile(r"\s*\\(?:text|mbox)\{\s*[A-Za-z][A-Za-z/ .]*\}(?:\s*\^\s*\{?\d\}?)?\s*$")
NUMBERISH_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d+)?|\.\d+|\\frac\{\d+\}\{\d+\}|\d+/\d+)$")
_UNIT_WORD_RE = re.compile(
    r"\s*\b(?:cm|km|m|mm|kg|g|s|sec|seconds?|min|minutes?|hours?|hrs?|h|days?|weeks?|years?|"
    r"km/h|m/s|mph|units?|degrees?|dollars?|cents?|inches|inch|feet|foot|ft|meters?|metres?|"
    r"kilometers?|miles?|sq|square units|cubic units)\b(?:\s*\^\s*\{?\d\}?)?\s*$"
)
# An ordinal suffix on a number: 12th, 12^{th}, 12^{\text{th}}, 21^\text{st}.
_SUFFIX = r"(?:\\(?:text|textrm|mathrm)\s*\{\s*)?(?:st|nd|rd|th)\s*\}?"
_ORDINAL_RE = re.compile(rf"^([-+]?\d+)\s*(?:\^\s*\{{\s*{_SUFFIX}\s*\}}|\^\s*{_SUFFIX}|(?:st|nd|rd|th))(?![A-Za-z])")
# A number followed by a few plain words ("12 grade", "7 people"); the words must not be math.
_NUMBER_WORDS_RE = re.compile(r"^([-+]?(?:\d+(?:\.\d+)?|\.\d+))\s+((?:[A-Za-z][A-Za-z'-]+\s*){1,4})$")
_MATH_WORDS = frozenset({"pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "mod", "times", "cdot", "frac", "infty", "inf"})
_PM_RE = re.compile(r"\\pm(?![A-Za-z])")
_CANON_DROP_RE = re.compile(r"\\(?:text|mathrm|mbox|textrm)|\\[,;:! ]|[{}\s~$]")


def _strip_math_wrappers(text: str) -> str:
    """Remove surrounding ``$``, ``$$``, ``\\(…\\)``, ``\\[…\\]`` and a final full stop."""
    text = text.strip()
    previous = None
    while previous != text:
        previous = text
        for left, right in _MATH_WRAPPERS:
            if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
                text = text[len(left) : len(text) - len(right)].strip()
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1].rstrip()
    return text


def _canon_unit(text: str) -> str:
    return _CANON_DROP_RE.sub("", text)


def remove_unit(part: str, unit: str | None = None) -> str:
    """Remove the task's ``unit`` (any spelling: ``\\text{ km/h}``, ``km/h``, plural) from the end
    of one answer, then a trailing ``\\text{...}`` word or a common unit word after a plain number."""
    if unit and len(part) <= 300:
        target = _canon_unit(_strip_math_wrappers(unit))
        if target:
            for i in range(1, len(part)):
                head = part[:i]
                if head.count("{") == head.count("}") and head.strip() and (_canon_unit(part[i:]) in (target, target + "s")):
                    part = part[:i].rstrip()
                    break
    stripped = _TRAILING_TEXT_RE.sub("", part)
    if stripped.strip() and stripped != part:
        part = stripped
    stripped = _UNIT_WORD_RE.sub("", part)
    if NUMBERISH_RE.match(stripped.strip()):
        part = stripped
    return part.strip()


def _matrices_as_pmatrix(text: str) -> str:
    """Every matrix environment written as ``pmatrix`` (an ``array``'s column spec dropped, and
    ``\\left( … \\right)`` around it removed), so that math-verify reads each as a matrix."""
    if "\\begin" not in text:
        return text
    text = _MATRIX_ENV_RE.sub(r"\\begin{pmatrix}", text)
    text = _MATRIX_END_RE.sub(r"\\end{pmatrix}", text)
    return _MATRIX_DELIMS_RE.sub(r"\1", text)


def _clean_spacing(text: str) -> str:
    """LaTeX spacing becomes one space; a row break ``\\\\`` stays inside a matrix, else it is a space."""
    text = _SPACING_RE.sub(lambda m: m.group(0) if m.group(0) == "\\\\" else " ", text)
    if "\\\\" not in text:
        return text
    pieces, last = [], 0
    for m in _MATRIX_RE.finditer(text):
        pieces += [text[last : m.start()].replace("\\\\", " "), m.group(0)]
        last = m.end()
    pieces.append(text[last:].replace("\\\\", " "))
    return "".join(pieces)


def normalize_answer(text: str) -> str:
    """Whole-answer clean-up: math wrappers, ``\\text{}`` (its "and"/"or" become commas), degree and
    percent signs, ``\\$``, LaTeX spacing (row breaks kept inside matrices), ``\\dfrac``/``\\tfrac``,
    ``{,}`` and ``,\\!`` thousands separators, matrix environments as ``pmatrix``."""
    text = _strip_math_wrappers(text)
    text = _CONNECTIVE_RE.sub(",", text)
    text = _DEGREE_RE.sub("", text)
    text = _PERCENT_RE.sub("", text)
    text = _THOUSANDS_BRACE_RE.sub("", text)
    text = _clean_spacing(_matrices_as_pmatrix(text)).replace("\\!", "").replace("\\$", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return _strip_math_wrappers(text.strip().strip(",").strip())


def normalize_part(part: str, unit: str | None = None) -> str:
    """Clean-up of one single answer after splitting: unit, ``\\text{}``, ``x=`` prefix, thousands
    separators ("1,234" → "1234"), an ordinal suffix ("12^{th}" → "12") and leading zeros ("025" → "25")."""
    part = remove_unit(_ORDINAL_RE.sub(r"\1", _strip_math_wrappers(part), count=1), unit)
    previous = None
    while previous != part:
        previous = part
        part = _TEXT_CMD_RE.sub(lambda m: m.group(1).strip(), part)
    if part.count("=") == 1:
        rest = _PREFIX_RE.sub("", part, count=1).strip()
        part = rest or part
    if _THOUSANDS_RE.match(part):
        part = part.replace(",", "")
    return _LEADING_ZERO_RE.sub("", part).strip()


def number_in_words(part: str) -> str | None:
    """The number of a cleaned answer that is a number followed by a few plain words ("12 grade",
    "7 people"), or ``None``; used only where the reference is a plain number. Words that are
    math ("pi", "sqrt"...) or single letters never go: "2 pi" is not 2."""
    match = _NUMBER_WORDS_RE.match(part.strip())
    if match is None:
        return None
    words = match.group(2).lower().split()
    return None if any(w in _MATH_WORDS for w in words) else match.group(1)


def split_answers(text: str) -> list[str]:
    """Split an answer at top-level commas (outside ``()``, ``[]``, ``{}``, ``\\{…\\}``).

    A number with thousands separators ("1,234,567") stays whole; a set in braces (``\\{1, 2\\}``)
    is opened first; an answer with one ``\\pm`` gives its two answers.
    """
    text = text.strip()
    if _THOUSANDS_RE.match(text):
        return [text]
    if text.startswith("\\{") and text.endswith("\\}") and _closes_at_end(text):
        text = text[2:-2]
    parts: list[str] = []
    depth = start = i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1 : i + 2] in ("{", "}"):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    out: list[str] = []
    for part in (p.strip() for p in parts):
        if len(_PM_RE.findall(part)) == 1:
            out += [_PM_RE.sub("+", part), _PM_RE.sub("-", part)]
        elif part:
            out.append(part)
    return out


def _closes_at_end(text: str) -> bool:
    """Whether the ``\\{`` that opens ``text`` is closed by the ``\\}`` that ends it."""
    depth = i = 0
    while i < len(text):
        if text.startswith("\\{", i) or text.startswith("\\}", i):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            if depth == 0:
                return i == len(text)
            continue
        i += 1
    return False
