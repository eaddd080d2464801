"""The scorers a benchmark of your own (:mod:`~transferlab.benchmarks.custom`) can name, each built
from the scorers the registered benchmarks use.

Each kind turns a data row's answer field into the stored reference (:func:`reference_of`), and
grades answers against references and metadata only (:func:`score_kind`): what the store keeps,
so a benchmark of your own is re-scored without its data file.

==========================  =====================================================================
kind                        how an answer is graded
==========================  =====================================================================
``math``                    the math grader (math-verify in its worker pool), as MATH-500
``exact``                   the whole answer (stripped) equals the reference
``normalized``              equal after SQuAD normalisation (case, punctuation, articles, spaces)
``multiple_choice``         the final option letter (as GPQA-Diamond) equals the gold letter
``loglikelihood_choice``    the option with the highest log-likelihood is the gold one (as HEAD-QA)
``regex``                   the last match of ``pattern`` (its first group) equals the reference
``numeric``                 the last number is within ``tolerance`` (absolute) or
                            ``relative_tolerance`` of the reference
``ifeval``                  Google's verifiable-instruction checkers (strict prompt level), as IFEval
``code``                    the last Python code block passes the tests in the sandbox: stdin/stdout
                            pairs (``tests``), or a test program calling ``check(entry_point)``
==========================  =====================================================================
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from transferlab.benchmarks.choices import choice_verdicts, final_letter, letters_for
from transferlab.benchmarks.coqa import normalize_squad
from transferlab.benchmarks.headqa import HeadQA
from transferlab.benchmarks.ifeval import IFEval
from transferlab.errors import DataError
from transferlab.items import Item, ScoringContext, Verdict
from transferlab.scoring.code import check_humaneval, extract_code, run_stdio_tests
from transferlab.scoring.extract import last_number
from transferlab.scoring.math import MathTask

__all__ = ["KINDS", "LOGLIKELIHOOD_KINDS", "reference_of", "score_kind"]

KINDS: tuple[str, ...] = ("math", "exact", "normalized", "multiple_choice", "loglikelihood_choice", "regex", "numeric", "ifeval", "code")
LOGLIKELIHOOD_KINDS: tuple[str, ...] = ("loglikelihood_choice",)


def _gold_index(answer: Any, choices: Sequence[Any], where: str) -> int:
    """A gold option as an index: an index, a letter, or the option's text."""
    if isinstance(answer, bool):
        raise DataError(f"{where}: the answer {answer!r} names no option", "give the gold option's index (0-based), letter or text")
    if isinstance(answer, int) and 0 <= answer < len(choices):
        return answer
    text = str(answer).strip()
    letters = letters_for(len(choices))
    if len(text) == 1 and text.upper() in letters:
        return letters.index(text.upper())
    if text in [str(c) for c in choices]:
        return [str(c) for c in choices].index(text)
    if text.isdigit() and int(text) < len(choices):
        return int(text)
    raise DataError(f"{where}: the answer {answer!r} names none of the {len(choices)} options", "give the gold option's index (0-based), letter or text")


def reference_of(kind: str, row: Mapping[str, Any], fields: Mapping[str, str], where: str) -> tuple[Any, dict[str, Any]]:
    """The stored reference and metadata of one data row for a scorer kind."""
    if kind == "ifeval":
        ids, kwargs = row[fields.get("instructions", "instruction_id_list")], row[fields.get("kwargs", "kwargs")]
        kwargs = json.loads(kwargs) if isinstance(kwargs, str) else kwargs
        ids = json.loads(ids) if isinstance(ids, str) else ids
        prompt = str(row.get(fields.get("prompt", "prompt"), ""))
        return {"prompt": prompt, "instruction_id_list": list(ids), "kwargs": [dict(k or {}) for k in kwargs]}, {"n_instructions": len(ids)}
    if kind == "code":
        tests = row.get(fields.get("tests", "tests"))
        if tests is not None:
            tests = json.loads(tests) if isinstance(tests, str) else tests
            return {"tests": [[str(t["input"]), str(t["output"])] for t in tests]}, {}
        return {"test": str(row[fields.get("test", "test")]), "entry_point": str(row[fields.get("entry_point", "entry_point")])}, {}
    answer = row[fields.get("answer", "answer")]
    if kind in ("multiple_choice", "loglikelihood_choice"):
        choices = _choices(row, fields, where)
        meta: dict[str, Any] = {"n_choices": len(choices)}
        if kind == "loglikelihood_choice":
            meta["option_chars"] = [len(str(c)) for c in choices]
        gold = _gold_index(answer, choices, where)
        return (letters_for(len(choices))[gold] if kind == "multiple_choice" else gold), meta
    if kind == "numeric":
        try:
            return float(answer), {}
        except (TypeError, ValueError):
            raise DataError(f"{where}: the answer {answer!r} is not a number", "a numeric scorer needs numeric answers") from None
    return str(answer).strip(), {}


def _choices(row: Mapping[str, Any], fields: Mapping[str, str], where: str) -> list[Any]:
    choices = row[fields.get("choices", "choices")]
    choices = json.loads(choices) if isinstance(choices, str) and choices.startswith("[") else choices
    if not isinstance(choices, (list, tuple)) or not 2 <= len(choices) <= 26:
        raise DataError(f"{where}: the choices field is not a list of 2 to 26 options", "give the options as a list (JSON list in CSV)")
    return list(choices)


def _regex_extract(pattern: re.Pattern[str]) -> Any:
    def extract(answer: str) -> str | None:
        matches = list(pattern.finditer(answer))
        if not matches:
            return None
        last = matches[-1]
        return (last.group(1) if last.groups() else last.group(0)).strip()

    return extract


def _numeric(answer: str, gold: float, options: Mapping[str, Any]) -> Verdict:
    got = last_number(answer)
    if got is None:
        return Verdict(0.0, None, "no_answer")
    try:
        value = float(got)
    except ValueError:
        return Verdict(0.0, got, "no_answer")
    ok = math.isclose(value, gold, rel_tol=float(options.get("relative_tolerance", 0.0)), abs_tol=float(options.get("tolerance", 1e-9)))
    return Verdict(1.0 if ok else 0.0, got)


def _code(item: Item, answer: str) -> Verdict:
    code = extract_code(answer)
    if code is None:
        return Verdict(0.0, None, "no_answer")
    ref = item.reference
    if "tests" in ref:
        result = run_stdio_tests(code, [(i, o) for i, o in ref["tests"]])
    else:
        problem = {"prompt": "", "test": ref["test"], "entry_point": ref["entry_point"]}  # code, then the test, then check(entry_point)
        result = check_humaneval(problem, code)
    return Verdict(1.0 if result.passed else 0.0, code, "ok", {"code_status": result.status, "tests_run": result.tests_run, "tests_total": result.tests_total})


def _letter(text: str, letters: str) -> str | None:
    return final_letter(text, letters)


def score_kind(kind: str, options: Mapping[str, Any], items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
    """Grade answers (thinking removed) with the scorer ``kind`` and its ``options``."""
    if kind == "math":
        style = options.get("answer_style", "boxed")
        return list(context.math_pool().verdicts([MathTask(response=a, gold=str(i.reference), style=style) for i, a in zip(items, answers, strict=True)]))
    if kind == "exact":
        return [Verdict(float(a.strip() == str(i.reference)), a.strip()) for i, a in zip(items, answers, strict=True)]
    if kind == "normalized":
        return [Verdict(float(normalize_squad(a) == normalize_squad(str(i.reference))), a.strip()) for i, a in zip(items, answers, strict=True)]
    if kind == "regex":
        extract = _regex_extract(re.compile(str(options["pattern"])))
        if options.get("normalize", True):
            return [
                Verdict(0.0, None, "no_answer")
                if (got := extract(a)) is None
                else Verdict(float(normalize_squad(got) == normalize_squad(str(i.reference))), got)
                for i, a in zip(items, answers, strict=True)
            ]
        return choice_verdicts(answers, [str(i.reference) for i in items], extract)
    if kind == "numeric":
        return [_numeric(a, float(i.reference), options) for i, a in zip(items, answers, strict=True)]
    if kind == "multiple_choice":
        return [
            choice_verdicts([a], [str(i.reference)], functools.partial(_letter, letters=letters_for(int(i.meta["n_choices"]))))[0]
            for i, a in zip(items, answers, strict=True)
        ]
    if kind == "loglikelihood_choice":
        return HeadQA().score(items, answers, context)
    if kind == "ifeval":
        return IFEval().score(items, answers, context)
    if kind == "code":
        return [_code(i, a) for i, a in zip(items, answers, strict=True)]
    raise DataError(f"unknown scorer {kind!r}", f"choose from {', '.join(KINDS)}")
