"""Grading code: HumanEval's canonical solutions through the sandbox, extraction, stdio tests."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from transferlab import sandbox
from transferlab.errors import TransferlabError
from transferlab.sandbox import SandboxLimits
from transferlab.scoring.code import (
    check_humaneval,
    check_humaneval_many,
    extract_code,
    outputs_match,
    run_stdio_tests,
)

try:
    sandbox.check_available()
    _SKIP = ""
except TransferlabError as err:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):  # CI installs bubblewrap (make test): a missing sandbox is a failure there
        raise
    _SKIP = str(err)
needs_sandbox = pytest.mark.skipif(bool(_SKIP), reason=f"no sandbox here: {_SKIP}")


@pytest.fixture(scope="module")
def humaneval(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --- HumanEval --------------------------------------------------------------------------------


@needs_sandbox
@pytest.mark.slow
def test_all_canonical_solutions_pass_in_parallel(humaneval) -> None:
    assert len(humaneval) == 164
    verdicts = check_humaneval_many(humaneval, [p["canonical_solution"] for p in humaneval])
    failed = [(p["task_id"], v.detail) for p, v in zip(humaneval, verdicts) if not v.passed]
    assert failed == []


@needs_sandbox
def test_wrong_solutions_fail(humaneval) -> None:
    problem = next(p for p in humaneval if p["task_id"] == "HumanEval/0")
    assert check_humaneval(problem, problem["canonical_solution"]).passed
    wrong = check_humaneval(problem, "    return False\n")
    assert not wrong.passed and wrong.status == "failed" and "AssertionError" in wrong.detail
    broken = check_humaneval(problem, "    return (\n")
    assert not broken.passed and "SyntaxError" in broken.result.stderr_tail
    slow = check_humaneval(problem, "    while True: pass\n", SandboxLimits(timeout_s=1))
    assert not slow.passed and slow.status == "timeout"


# --- extracting code --------------------------------------------------------------------------


def test_extract_code_takes_the_last_python_block() -> None:
    text = "Plan:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\nprint(x)\n```\nDone."
    assert extract_code(text) == "x = 2\nprint(x)\n"


def test_extract_code_accepts_untagged_and_py_blocks_but_not_other_languages() -> None:
    assert extract_code("```\nprint(1)\n```") == "print(1)\n"
    assert extract_code("```py\nprint(2)\n```\n") == "print(2)\n"
    assert extract_code("```Python3\nprint(3)\n```") == "print(3)\n"
    text = "```python\nprint(4)\n```\nRun it:\n```bash\npython main.py\n```"
    assert extract_code(text) == "print(4)\n"
    assert extract_code("```cpp\nint main(){}\n```") is None


def test_extract_code_without_a_complete_block_is_none() -> None:
    assert extract_code("just prose, no code") is None
    assert extract_code("```python\nprint('truncated')") is None
    assert extract_code("```python\n\n```") is None


def test_extract_code_keeps_indentation_and_inner_backticks() -> None:
    text = "```python\ndef f():\n    s = '`a`'\n    return s\n```"
    assert extract_code(text) == "def f():\n    s = '`a`'\n    return s\n"


# --- stdin/stdout tests -----------------------------------------------------------------------


def test_outputs_match_normalises_whitespace_and_numbers() -> None:
    assert outputs_match("1 2  3\n\n", "1 2 3")
    assert outputs_match("  yes\r\nno \n", "yes\nno\n")
    assert outputs_match("0.50\n", "0.5\n")
    assert not outputs_match("1 2\n3\n", "1 2 3\n")
    assert not outputs_match("yes\n", "Yes\n")
    assert not outputs_match("1\n2\n", "1\n")


ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


@needs_sandbox
def test_stdio_tests_pass_when_all_pass() -> None:
    tests = [("1 2\n", "3\n"), ("10 -4\n", "6"), ("0 0\n", "0\n")]
    verdict = run_stdio_tests(ADD, tests)
    assert verdict.passed and verdict.status == "passed" and verdict.tests_run == 3


@needs_sandbox
def test_stdio_tests_report_the_first_failure() -> None:
    tests = [("1 2\n", "3\n"), ("2 2\n", "5\n"), ("3 3\n", "6\n")]
    verdict = run_stdio_tests(ADD, tests, workers=1)
    assert not verdict.passed and verdict.status == "wrong_answer" and verdict.failed_test == 1
    assert verdict.tests_run == 2  # stopped at the first failure: the third never ran
    crash = run_stdio_tests("print(1 / 0)\n", [("", "1\n")])
    assert crash.status == "failed" and "ZeroDivisionError" in crash.detail
    slow = run_stdio_tests("while True: pass\n", [("", "")], SandboxLimits(timeout_s=1))
    assert slow.status == "timeout"


def test_stdio_tests_without_code_do_not_run() -> None:
    assert run_stdio_tests(None, [("", "")]).status == "no_code"
    assert run_stdio_tests("print(1)", []).status == "no_tests"
