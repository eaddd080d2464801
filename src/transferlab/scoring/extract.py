"""Pull the final answer out of a math completion (pure string functions, no sympy).

Two extraction styles, picked by the benchmark:

- ``"boxed"`` (MATH-500, AIME, OlympiadBench): the content of the last ``\\boxed{...}`` or
  ``\\fbox{...}``; failing that, the text after the last "final answer is" / "answer is" phrase;
  failing that, ``None`` (no answer: the completion is graded wrong, never guessed at).
- ``"gsm8k"``: the last boxed answer, then the last ``#### N`` line, then "answer is X", then the
  last number anywhere in the text. Thousands separators are removed from the numbers it returns.

The caller removes the thinking part first; these functions look only at the answer part.
"""

from __future__ import annotations

import re

from transferlab.options import ANSWER_STYLES, AnswerStyle

__all__ = [
    "answer_phrase",
    "extract_math_answer",
    "gsm8k_hashes",
    "last_boxed",
    "last_number",
    "normalize_answer",
    "normalize_part",
    "remove_unit",
    "split_answers",
]


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
# A number, possibly negative, possibly with thousands separators or a decimal part.
_NUMBER_RE = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
_HASHES_RE = re.compile(r"^[ \t]*####[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_PHRASE_RE = re.compile(r"(?:final\s+answer|answer)\s*(?:is|:)\s*:?", re.IGNORECASE)


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


def _box_content(text: str, start: int) -> str | None:
    """The argument of the ``\\boxed``/``\\fbox`` command that ends at ``start`` (or ``None``)."""
    rest = text[start:]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        group = _braced(text, start + len(rest) - len(stripped))
        return None if group is None else group[0]
    if rest[:1] in (" ", "\t"):
        # ``\boxed 5`` form: the argument runs to the end of the math or of the line.
        arg = re.split(r"\$|\\\]|\\\)|\n", stripped, maxsplit=1)[0].strip()
        return arg.rstrip(".") or None
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last well-formed, non-empty ``\\boxed{...}`` or ``\\fbox{...}``.

    Nested braces are handled (``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``), a box inside a box
    is unwrapped, and the brace-less ``\\boxed 5`` form is read up to the end of the math or line.
    An unclosed or empty last box (``\\boxed{}`` in a restated instruction, a truncated answer) is
    skipped in favour of the box before it. ``None`` when there is no usable box.
    """
    for match in reversed(list(_BOX_RE.finditer(text))):
        content = _box_content(text, match.end())
        if content is None or not content.strip():
            continue
        content = content.strip()
        inner = last_boxed(content)
        if inner is not None and _BOX_RE.match(content) and _braced_whole(content):
            content = inner
        return content
    return None


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


def answer_phrase(text: str) -> str | None:
    """The answer after the last "final answer is" / "answer is" / "answer:" phrase.

    The answer runs to the end of its line or sentence (". "); surrounding ``$``, ``\\(``…``\\)``, ``\\[``…``\\]``,
    ``**`` and a trailing full stop are removed. ``None`` when there is no such phrase or it is
    followed by nothing.
    """
    matches = list(_PHRASE_RE.finditer(text))
    for match in reversed(matches):
        line = re.split(r"\n|\.\s", text[match.end() :], maxsplit=1)[0]
        answer = _strip_wrappers(line)
        if answer:
            return answer
    return None


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


def extract_math_answer(text: str, style: AnswerStyle = "boxed") -> str | None:
    """The final answer of a completion under ``style`` ("boxed" or "gsm8k"), or ``None``.

    "boxed": last ``\\boxed``/``\\fbox``, else the "final answer is X" / "answer is X" phrase.
    "gsm8k": last boxed, else the last ``#### N``, else the last number in the "answer is X" phrase,
    else the last number in the text (thousands separators removed from these numbers).
    """
    if style not in ANSWER_STYLES:
        raise ValueError(f"unknown extraction style {style!r}; expected one of {ANSWER_STYLES}")
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    if style == "boxed":
        return answer_phrase(text)
    for fallback in (gsm8k_hashes, answer_phrase, last_number):
        answer = fallback(text)
        if answer is not None:
            # "The answer is 18 dollars." → "18": GSM8K answers are numbers.
            return (last_number(answer) or answer) if fallback is answer_phrase else answer
    return None


# --------------------------------------------------------------------------------------------
# Clean-up of an answer string before it is compared (shared by references and responses)
# --------------------------------------------------------------------------------------------

_MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mbox|mathbf|operatorname)\s*\{([^{}]*)\}")
_CONNECTIVE_RE = re.compile(r"\s*(?:\\(?:text|mbox)\{\s*(?:and|or|,)\s*\}|\band\b|\bor\b|;)\s*")
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree")
_PERCENT_RE = re.compile(r"\\?%")
_SPACING_RE = re.compile(r"\\[,;: ]|\\q?quad\b|~")
_THOUSANDS_BRACE_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,|\\!)(?=\d{3})")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LEADING_ZERO_RE = re.compile(r"(?<![\d.])0+(?=\d)")
# "x =", "f(x) =", "m_{\max} =", "\angle A =", "(a, b) =": a name (subscript, arguments) and "=".
_PREFIX_RE = re.compile(r"^\s*(?:\\[A-Za-z]+\s*)?[A-Za-z]?(?:_\{[^{}]*\}|_\w)?(?:\([^()=]*\))?\s*=(?![=<>])")
_TRAILING_TEXT_RE = re.compile(r"\s*\\(?:text|mbox)\{\s*[A-Za-z][A-Za-z/ .]*\}(?:\s*\^\s*\{?\d\}?)?\s*$")
_NUMBERISH_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d+)?|\.\d+|\\frac\{\d+\}\{\d+\}|\d+/\d+)$")
_UNIT_WORD_RE = re.compile(
    r"\s*\b(?:cm|km|m|mm|kg|g|s|sec|seconds?|min|minutes?|hours?|hrs?|h|days?|weeks?|years?|"
    r"km/h|m/s|mph|units?|degrees?|dollars?|cents?|inches|inch|feet|foot|ft|meters?|metres?|"
    r"kilometers?|miles?|sq|square units|cubic units)\b(?:\s*\^\s*\{?\d\}?)?\s*$"
)
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
    if _NUMBERISH_RE.match(stripped.strip()):
        part = stripped
    return part.strip()


def normalize_answer(text: str) -> str:
    """Whole-answer clean-up: math wrappers, ``\\text{}`` (its "and"/"or" become commas), degree and
    percent signs, ``\\$``, LaTeX spacing, ``\\dfrac``/``\\tfrac``, ``{,}`` and ``,\\!`` thousands
    separators."""
    text = _strip_math_wrappers(text)
    text = _CONNECTIVE_RE.sub(",", text)
    text = _DEGREE_RE.sub("", text)
    text = _PERCENT_RE.sub("", text)
    text = _THOUSANDS_BRACE_RE.sub("", text)
    text = _SPACING_RE.sub(" ", text).replace("\\!", "").replace("\\$", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return _strip_math_wrappers(text.strip().strip(",").strip())


def normalize_part(part: str, unit: str | None = None) -> str:
    """Clean-up of one single answer after splitting: unit, ``\\text{}``, ``x=`` prefix, thousands
    separators ("1,234" → "1234") and leading zeros ("025" → "25")."""
    part = remove_unit(_strip_math_wrappers(part), unit)
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
