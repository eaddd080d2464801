"""Grading model-written code: pull the code out of a completion and run it against tests.

Every program runs in :mod:`transferlab.sandbox`; nothing here executes code itself.

    code = extract_code(completion)                      # the last fenced Python block
    verdict = run_stdio_tests(code, [("1 2\\n", "3\\n")])  # LiveCodeBench style
    verdict = check_humaneval(problem, completion)       # prompt + completion + test + check()
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from transferlab.sandbox import (
    SandboxLimits,
    SandboxResult,
    check_available,
    default_workers,
    run_many,
    run_python,
)

# LiveCodeBench gives each test 6 s (the paper's setting); HumanEval programs are quick.
STDIO_LIMITS = SandboxLimits(timeout_s=6.0)
HUMANEVAL_LIMITS = SandboxLimits(timeout_s=10.0)

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
_PYTHON_TAGS = {"", "python", "python3", "py", "py3"}


@dataclass(frozen=True)
class CodeVerdict:
    """The outcome of grading one program: ``passed`` only when every test passed."""

    passed: bool
    status: str  # "passed", "no_code", "wrong_answer", or the failing run's sandbox status
    tests_run: int
    tests_total: int
    failed_test: int | None = None  # index of the first failing test
    result: SandboxResult | None = None  # the failing run (or the last run when all passed)
    detail: str = ""


def extract_code(text: str) -> str | None:
    """The last complete fenced code block tagged Python (or untagged); None when there is none.

    An opening fence that never closes (a truncated answer) does not count as code.
    """
    fences = list(_FENCE.finditer(text))
    blocks: list[tuple[str, str]] = []
    i = 0
    while i + 1 < len(fences):
        opening, closing = fences[i], fences[i + 1]
        if closing.group(1):  # "```python" cannot close a block: treat it as a new opening
            i += 1
            continue
        body = text[opening.end() + 1 : closing.start()]
        blocks.append((opening.group(1).lower(), body))
        i += 2
    for tag, body in reversed(blocks):
        if tag in _PYTHON_TAGS and body.strip():
            return body if body.endswith("\n") else body + "\n"
    return None


def humaneval_program(problem: Mapping[str, str], completion: str) -> str:
    """The program HumanEval runs: prompt, completion, the test's ``check`` and its call."""
    return problem["prompt"] + completion + "\n\n" + problem["test"] + "\n\n" + f"check({problem['entry_point']})\n"


def check_humaneval(problem: Mapping[str, str], completion: str, limits: SandboxLimits = HUMANEVAL_LIMITS) -> CodeVerdict:
    """Run one HumanEval completion against its tests."""
    return _humaneval_verdict(run_python(humaneval_program(problem, completion), limits=limits))


def check_humaneval_many(
    problems: Sequence[Mapping[str, str]],
    completions: Sequence[str],
    limits: SandboxLimits = HUMANEVAL_LIMITS,
    workers: int | None = None,
) -> list[CodeVerdict]:
    """Many HumanEval completions in parallel across cores, in input order."""
    programs = [humaneval_program(p, c) for p, c in zip(problems, completions, strict=True)]
    return [_humaneval_verdict(r) for r in run_many(programs, limits=limits, workers=workers)]


def _humaneval_verdict(result: SandboxResult) -> CodeVerdict:
    return CodeVerdict(
        passed=result.ok,
        status="passed" if result.ok else result.status,
        tests_run=1,
        tests_total=1,
        failed_test=None if result.ok else 0,
        result=result,
        detail=result.detail,
    )


def outputs_match(actual: str, expected: str) -> bool:
    """Whether two outputs agree line by line, ignoring surrounding and repeated whitespace.

    Tokens that differ as text still match when both are numbers of equal value ("1.0" = "1"),
    as LiveCodeBench allows.
    """
    got, want = _lines(actual), _lines(expected)
    if len(got) != len(want):
        return False
    return all(_line_match(a, b) for a, b in zip(got, want, strict=True))


def _lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def _line_match(got: list[str], want: list[str]) -> bool:
    if got == want:
        return True
    if len(got) != len(want):
        return False
    try:
        return all(Decimal(a) == Decimal(b) for a, b in zip(got, want, strict=True))
    except (InvalidOperation, ValueError):
        return False


def run_stdio_tests(
    source: str | None,
    tests: Sequence[tuple[str, str]],
    limits: SandboxLimits = STDIO_LIMITS,
    workers: int | None = None,
) -> CodeVerdict:
    """Run ``source`` on every (stdin, expected stdout) pair; it passes when all pass.

    Tests run in parallel across cores (``workers`` at a time); once one fails no further test
    is started, and the verdict names the failing test with the lowest index among those run.
    """
    if source is None or not source.strip():
        return CodeVerdict(False, "no_code", 0, len(tests), detail="no code to run")
    if not tests:
        return CodeVerdict(False, "no_tests", 0, 0, detail="no tests to run")
    check_available()
    results = _run_until_failure(source, tests, limits, workers or default_workers())
    for i in sorted(results):
        verdict = _test_verdict(i, results[i], tests[i][1], len(tests))
        if verdict is not None:
            return replace(verdict, tests_run=len(results))
    return CodeVerdict(True, "passed", len(tests), len(tests), result=results[len(tests) - 1])


def _run_until_failure(source: str, tests: Sequence[tuple[str, str]], limits: SandboxLimits, workers: int) -> dict[int, SandboxResult]:
    """Run tests ``workers`` at a time, starting none after the first failure is seen."""
    results: dict[int, SandboxResult] = {}
    waiting = iter(range(len(tests)))
    running: dict[Future[SandboxResult], int] = {}
    failed = False
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            while not failed and len(running) < workers:
                i = next(waiting, None)
                if i is None:
                    break
                running[pool.submit(run_python, source, stdin=tests[i][0], limits=limits)] = i
            if not running:
                return results
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                i = running.pop(future)
                results[i] = future.result()
                failed = failed or _test_verdict(i, results[i], tests[i][1], 0) is not None


def _test_verdict(i: int, result: SandboxResult, expected: str, total: int) -> CodeVerdict | None:
    """None when test ``i`` passed, else the verdict describing its failure."""
    if not result.ok:
        return CodeVerdict(False, result.status, 0, total, i, result, result.detail)
    if not outputs_match(result.stdout, expected):
        return CodeVerdict(False, "wrong_answer", 0, total, i, result, f"test {i}: wrong answer")
    return None
