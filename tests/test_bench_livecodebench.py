"""LiveCodeBench: fixtures in code_generation_lite's schema, HumanEval as functional problems,
grading in the sandbox, and the plain-data unpickler for the private tests."""

from __future__ import annotations

import ast
import base64
import gzip
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from transferlab import sandbox
from transferlab.benchmarks import get_benchmark
from transferlab.benchmarks.livecodebench import (
    LiveCodeBench,
    decode_tests,
    functional_program,
    grade_problem,
    load_plain_pickle,
    release_files,
)
from transferlab.errors import DataError, TransferlabError

FIXTURES = Path(__file__).resolve().parent / "fixtures"

try:
    sandbox.check_available()
    _SKIP = ""
except TransferlabError as err:  # pragma: no cover - depends on the machine
    _SKIP = str(err)
needs_sandbox = pytest.mark.skipif(bool(_SKIP), reason=f"no sandbox here: {_SKIP}")


def fenced(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```\nIt reads the input and prints the answer."


@pytest.fixture(scope="module")
def problems():
    return {i.id: i for i in LiveCodeBench().load(FIXTURES)}


def test_release_tags_and_date_windows(problems):
    assert release_files("release_v2") == ("test.jsonl", "test2.jsonl") and release_files("v2_v3") == ("test2.jsonl", "test3.jsonl")
    assert len(release_files("release_latest")) == 6
    with pytest.raises(DataError, match="unknown LiveCodeBench release tag"):
        release_files("release_v9")
    assert list(problems) == ["abc900_a", "1850_B", "3001", "3102", "abc930_b"]
    assert [i.id for i in LiveCodeBench(release="release_v1").load(FIXTURES)] == ["abc900_a", "1850_B", "3001"]
    assert [i.id for i in LiveCodeBench(release="v2").load(FIXTURES)] == ["3102", "abc930_b"]
    window = LiveCodeBench().with_window("2023-07-14", "2023-11-18").load(FIXTURES)
    assert [i.id for i in window] == ["1850_B", "3001", "3102"]  # both ends inclusive
    with pytest.raises(DataError, match="no LiveCodeBench problems"):
        LiveCodeBench(start_date="2030-01-01").load(FIXTURES)
    assert get_benchmark("livecodebench").load(FIXTURES, limit=2) == list(problems.values())[:2]


def test_items_carry_their_tests(problems):
    twosum = problems["3001"]
    assert twosum.meta["testtype"] == "functional" and twosum.meta["func_name"] == "twoSum"
    assert len(twosum.meta["public_tests"]) == 1 and len(decode_tests(twosum.meta["private_tests"])) == 3
    assert problems["1850_B"].meta["private_tests"].startswith("[")  # plain JSON private tests load too
    assert len(decode_tests(problems["1850_B"].meta["private_tests"])) == 2
    assert problems["abc900_a"].meta["testtype"] == "stdin" and problems["abc900_a"].meta["difficulty"] == "easy"


def test_prompts(problems):
    b = LiveCodeBench()
    system, user = b.messages(problems["3001"])
    assert system["role"] == "system" and system["content"].startswith("You are an expert Python programmer.")
    assert user["content"].startswith("### Question:\n") and "def twoSum(self" in user["content"]
    assert user["content"].endswith("### Answer: (use the provided format with backticks)\n\n")
    stdin_user = b.messages(problems["abc900_a"])[1]["content"]
    assert "Read the inputs from stdin" in stdin_user and "# YOUR CODE HERE" in stdin_user
    paper = b.messages(problems["abc900_a"], "paper")
    assert len(paper) == 1 and paper[0]["content"].startswith(
        "Generate an executable Python function generated from the given prompt. The function should take stdin"
    )
    assert b.messages(problems["3001"], "paper")[0]["content"].startswith(
        "Generate an executable Python function generated from the given prompt. Return the function body"
    )


RIGHT = {
    "abc900_a": "n = int(input())\nprint(sum(int(x) % 2 == 0 for x in input().split()))",
    "1850_B": "for _ in range(int(input())):\n    s = input().strip()\n    print('YES' if s == s[::-1] else 'NO')",
    "3001": (
        "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                print('found', i)  # a stray print must not break the check\n"
        "                return (seen[target - x], i)\n            seen[x] = i"
    ),
    "3102": (
        "class Solution:\n    def isBalanced(self, s: str) -> bool:\n        stack = []\n        for c in s:\n"
        "            if c in '([':\n                stack.append(c)\n"
        "            elif not stack or {')': '(', ']': '['}[c] != stack.pop():\n                return False\n"
        "        return not stack"
    ),
}
WRONG = {
    "abc900_a": "input()\nprint(3)",  # passes the public test only
    "3001": "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]",  # idem
    "3102": "class Solution:\n    def isBalanced(self, s):\n        return len(s) % 2 == 0",  # even length is not enough
}


@needs_sandbox
def test_right_solutions_pass_and_wrong_ones_fail(problems):
    b = LiveCodeBench()
    ids = list(RIGHT) + list(WRONG)
    answers = [fenced(RIGHT[i]) for i in RIGHT] + [fenced(WRONG[i]) for i in WRONG]
    verdicts = b.score([problems[i] for i in ids], answers, None)
    assert [v.score for v in verdicts] == [1.0] * len(RIGHT) + [0.0] * len(WRONG)
    assert verdicts[0].extracted == "passed 4/4" and verdicts[2].extracted == "passed 4/4"
    assert verdicts[len(RIGHT)].extracted == "wrong_answer at test 1 of 4"  # public test 0 passed
    assert all(v.status == "ok" for v in verdicts)


@needs_sandbox
def test_crashes_and_missing_code(problems):
    crash = grade_problem(problems["3102"].meta, fenced("class Solution:\n    def isBalanced(self, s):\n        raise ValueError('boom')"))
    assert crash.score == 0.0 and crash.extracted == "failed at test 0 of 5"
    missing = grade_problem(problems["abc900_a"].meta, "I would count the even numbers.")
    assert (missing.score, missing.status) == (0.0, "no_answer")
    unclosed = grade_problem(problems["abc900_a"].meta, "```python\nprint(3)\n")  # truncated: no code
    assert unclosed.status == "no_answer"


def humaneval_as_functional(problem: dict[str, str]) -> dict | None:
    """A HumanEval problem in LiveCodeBench's functional schema, from its ``candidate(...) == X`` asserts."""
    asserts = [n for n in ast.walk(ast.parse(problem["test"])) if isinstance(n, ast.Assert)]
    tests = []
    for node in asserts:
        call = node.test.left if isinstance(node.test, ast.Compare) and isinstance(node.test.ops[0], ast.Eq) else None
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "candidate"):
            return None  # every assert must be a plain equality, else the tests would be partial
        try:
            args = [ast.literal_eval(a) for a in call.args]
            expected = ast.literal_eval(node.test.comparators[0])
        except ValueError:
            return None
        tests.append({"input": "\n".join(json.dumps(a) for a in args), "output": json.dumps(expected)})
    if not tests:
        return None
    return {"testtype": "functional", "func_name": problem["entry_point"], "public_tests": tests[:1], "private_tests": json.dumps(tests[1:])}


@needs_sandbox
def test_humaneval_problems_through_the_functional_harness(shared_data):
    with gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    converted = [(r, m) for r in rows[:6] if (m := humaneval_as_functional(r))][:3]
    assert [r["task_id"] for r, _ in converted] == ["HumanEval/0", "HumanEval/1", "HumanEval/3"]
    for row, meta in converted:
        canonical = grade_problem(meta, fenced(row["prompt"] + row["canonical_solution"]))
        assert canonical.score == 1.0, (row["task_id"], canonical)
        broken = grade_problem(meta, fenced(row["prompt"] + "    return None\n"))
        assert broken.score == 0.0 and broken.extracted.startswith("wrong_answer"), (row["task_id"], broken)


def test_functional_program_is_plain_python():
    program = functional_program("def f(x):\n    return x\n", "f")
    compile(program, "harness.py", "exec")  # the harness itself is valid Python
    assert "'f'" in program and "PASSED" in program


# --- the plain-data unpickler ------------------------------------------------------------------


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def encoded(obj, protocol: int) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(obj, protocol=protocol))).decode()


def test_private_tests_decode_like_the_dataset():
    tests = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
    for protocol in (0, 2, 4, 5):
        assert decode_tests(encoded(json.dumps(tests), protocol)) == tests
    assert decode_tests(encoded(tests, 4)) == tests  # a pickled list of dicts is plain data too
    assert decode_tests(json.dumps(tests)) == tests and decode_tests("") == []


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_malicious_pickle_is_refused_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    blob = encoded([{"input": "x", "output": _Exploit(str(marker))}], protocol)
    with pytest.raises(DataError, match=r"not plain data \(refused to load (posix|os)\.system"):
        decode_tests(blob)
    assert not marker.exists()
    with pytest.raises(DataError, match="refused to load builtins.eval"):
        load_plain_pickle(pickle.dumps(_Eval()))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@needs_sandbox
def test_a_problem_with_a_malicious_pickle_scores_as_an_error(problems, tmp_path):
    marker = tmp_path / "pwned"
    meta = {**problems["abc900_a"].meta, "private_tests": encoded([_Exploit(str(marker))], 4)}
    verdict = grade_problem(meta, fenced(RIGHT["abc900_a"]))
    assert (verdict.score, verdict.status) == (0.0, "error") and "not plain data" in verdict.extracted
    assert not marker.exists()


def test_garbage_tests_are_data_errors():
    with pytest.raises(DataError, match="neither JSON nor base64"):
        decode_tests("@@@ not base64 @@@")
    with pytest.raises(DataError, match="not a list of"):
        decode_tests(json.dumps({"input": 1}))
