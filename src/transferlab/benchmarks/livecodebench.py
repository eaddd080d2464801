"""LiveCodeBench code generation (``livecodebench/code_generation_lite``), graded in the sandbox.

Data: the hub's JSON Lines files, chosen by release tag (``release_v2``, the study's 511
problems, is ``test.jsonl`` + ``test2.jsonl``; ``v3`` is ``test3.jsonl`` alone; ``v2_v4`` is files 2
to 4), optionally narrowed to a contest-date window; or the same files in
``<data_dir>/livecodebench/``. Rows: question_id, question_title, question_content, platform,
contest_date, difficulty, starter_code, public_test_cases (JSON), private_test_cases (JSON, or
base64 of zlib of a pickle of the JSON text), metadata (JSON, ``func_name`` for LeetCode).

The private tests are unpickled by :class:`PlainDataUnpickler`, which admits plain data only
(strings, numbers, lists, dicts...) and refuses every class or function a pickle names, so a
crafted pickle cannot run anything. Items keep the tests in their ``meta`` (the private ones
still encoded, as published) so stored completions can be re-scored without the data files.

Prompt styles:

- ``default``: LiveCodeBench's own prompt (system: "You are an expert Python programmer...";
  "### Question: ... ### Format: ..." with the starter code for LeetCode problems).
- ``paper``: the study's evalchemy prompt, "Generate an executable Python function generated from
  the given prompt. ..." followed directly by the question (no starter code).

Scoring (scorer ``"code"``): the last fenced Python block of the answer runs against the public
and the private tests, 6 s per test, only in :mod:`transferlab.sandbox`; the answer passes
when every test passes. Standard-input problems compare the output line by line (numbers by
value); functional (LeetCode) problems run through a harness that calls ``Solution().<func_name>``
(or a top-level function) on the test's JSON arguments and compares the result.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import take
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.io import read_jsonl
from transferlab.items import Item, ScoringContext, Verdict

FILES = ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")
SYSTEM_PROMPT = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)
FORMAT_STARTER = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."
FORMAT_STDIN = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
    "sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, "
    "it reads the inputs, runs the algorithm and writes output to STDOUT."
)
PAPER_STDIN = (
    "Generate an executable Python function generated from the given prompt. The function should take stdin "
    "as input and print the output. Simply call the function after the definition."
)
PAPER_FUNCTIONAL = "Generate an executable Python function generated from the given prompt. Return the function body without invoking it at the final solution."
# What LiveCodeBench puts before every program: the standard library names solutions assume.
_HEADER_MODULES = (
    "string",
    "re",
    "datetime",
    "collections",
    "heapq",
    "bisect",
    "copy",
    "math",
    "random",
    "statistics",
    "itertools",
    "functools",
    "operator",
    "io",
    "sys",
    "json",
)
IMPORT_HEADER = (
    "".join(f"from {m} import *\n" for m in (*_HEADER_MODULES, "builtins", "typing")) + f"import {', '.join(_HEADER_MODULES)}\nsys.setrecursionlimit(50000)\n"
)
PASSED = "PASSED"

Row = dict[str, Any]


# --- private tests: plain data only -----------------------------------------------------------


class PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain data and refuses every global a pickle names."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only plain data is allowed")


def load_plain_pickle(data: bytes) -> Any:
    """Unpickle ``data`` admitting only plain data (no classes, functions or reducers)."""
    try:
        return PlainDataUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as err:
        raise DataError(f"a LiveCodeBench test pickle is not plain data ({err})", "use the published livecodebench/code_generation_lite files") from err
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
        raise DataError(f"a LiveCodeBench test pickle is malformed ({type(err).__name__}: {err})", "re-download the data file") from err


def decode_tests(encoded: str) -> list[dict[str, str]]:
    """The test cases of ``private_test_cases``: JSON text, or base64 of zlib of a pickled JSON text."""
    if not encoded or not encoded.strip():
        return []
    try:
        tests = json.loads(encoded)
    except json.JSONDecodeError:
        try:
            raw = zlib.decompress(base64.b64decode(encoded.encode("ascii"), validate=False))
        except (binascii.Error, zlib.error, UnicodeEncodeError) as err:
            raise DataError(f"LiveCodeBench private tests are neither JSON nor base64+zlib ({err})", "re-download the data file") from err
        tests = load_plain_pickle(raw)
        if isinstance(tests, (str, bytes)):
            try:
                tests = json.loads(tests)
            except json.JSONDecodeError as err:
                raise DataError(f"LiveCodeBench private tests hold malformed JSON ({err.msg})", "re-download the data file") from err
    if not isinstance(tests, list) or not all(isinstance(t, dict) and "input" in t and "output" in t for t in tests):
        raise DataError("LiveCodeBench tests are not a list of {input, output} objects", "re-download the data file")
    return tests


# --- releases and loading ---------------------------------------------------------------------


def release_files(tag: str) -> tuple[str, ...]:
    """The files of a release tag: ``release_vN`` (files 1..N), ``release_latest``, ``vN``, ``vA_vB``."""
    if tag == "release_latest":
        return FILES
    if m := re.fullmatch(r"release_v(\d+)", tag):
        last = int(m.group(1))
        if 1 <= last <= len(FILES):
            return FILES[:last]
    if m := re.fullmatch(r"v(\d+)(?:_v(\d+))?", tag):
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if 1 <= first <= last <= len(FILES):
            return FILES[first - 1 : last]
    raise DataError(f"unknown LiveCodeBench release tag {tag!r}", f"use release_v1..release_v{len(FILES)}, release_latest, vN or vA_vB")


def in_window(contest_date: str, start: str | None, end: str | None) -> bool:
    """Whether an ISO contest date (``2023-08-21T00:00:00``) lies in [start, end] (dates, inclusive)."""
    day = str(contest_date)[:10]
    return (start is None or day >= start) and (end is None or day <= end)


def _hub_rows(hf_id: str, files: Sequence[str]) -> list[Row]:
    try:
        import datasets

        ds = datasets.load_dataset(hf_id, data_files={"test": list(files)}, split="test")
    except Exception as err:  # any failure of the hub becomes one actionable line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"could not load {hf_id} ({', '.join(files)}) from the hub: {first}", "check the network or pass --data-dir with local copies") from err
    return [dict(row) for row in ds]


def lcb_item(row: Row) -> Item:
    """One problem; its tests (private ones still encoded) travel in ``meta``."""
    public = json.loads(row["public_test_cases"]) if isinstance(row["public_test_cases"], str) else list(row["public_test_cases"])
    raw_meta = row.get("metadata") or "{}"
    metadata = json.loads(raw_meta) if isinstance(raw_meta, str) else dict(raw_meta)
    testtype = public[0].get("testtype", "stdin") if public else ("functional" if metadata.get("func_name") else "stdin")
    fields = {"question": row["question_content"], "starter_code": row.get("starter_code") or "", "title": row.get("question_title", ""), "testtype": testtype}
    meta = {
        "testtype": testtype,
        "func_name": metadata.get("func_name"),
        "difficulty": row.get("difficulty"),
        "platform": row.get("platform"),
        "contest_date": str(row.get("contest_date", "")),
        "public_tests": [{"input": t["input"], "output": t["output"]} for t in public],
        "private_tests": row.get("private_test_cases") or "",
    }
    return Item(str(row["question_id"]), fields, None, meta)


@dataclass(frozen=True)
class LiveCodeBench:
    """LiveCodeBench (see the module docstring); ``release``, ``start_date``/``end_date`` select problems."""

    release: str = "release_v2"
    start_date: str | None = None  # "YYYY-MM-DD", inclusive
    end_date: str | None = None
    timeout_s: float = 6.0  # per test, as the study
    name: str = "livecodebench"
    group: Group = "other"
    hf_id: str = "livecodebench/code_generation_lite"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    scorer: str = "code"
    mode: str = "generate"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The problems of the release (and date window), in file order."""
        files = release_files(self.release)
        if data_dir is not None:
            rows = [row for f in files for row in read_jsonl(Path(data_dir) / "livecodebench" / f)]
        else:
            rows = _hub_rows(self.hf_id, files)
        items = []
        for index, row in enumerate(rows):
            try:
                if in_window(row.get("contest_date", ""), self.start_date, self.end_date):
                    items.append(lcb_item(row))
            except (KeyError, TypeError, json.JSONDecodeError) as err:
                raise DataError(f"LiveCodeBench row {index + 1} is malformed ({err!r})", "check that the files are code_generation_lite's") from err
        if not items:
            raise DataError(
                f"no LiveCodeBench problems in {self.release} between {self.start_date} and {self.end_date}", "widen the date window or pick another release"
            )
        return take(items, limit)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """LiveCodeBench's prompt (``default``) or the study's (``paper``)."""
        question, starter = item.fields["question"], item.fields["starter_code"]
        if style == "paper":
            lead = PAPER_STDIN if item.fields["testtype"] == "stdin" else PAPER_FUNCTIONAL
            return [{"role": "user", "content": lead + question}]
        if style != "default":
            raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
        prompt = f"### Question:\n{question}\n\n"
        if starter:
            prompt += f"### Format: {FORMAT_STARTER}\n```python\n{starter}\n```\n\n"
        else:
            prompt += f"### Format: {FORMAT_STDIN}\n```python\n# YOUR CODE HERE\n```\n\n"
        prompt += "### Answer: (use the provided format with backticks)\n\n"
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """Run each answer's code against all the tests of its problem in the sandbox."""
        return [grade_problem(item.meta, answer, self.timeout_s) for item, answer in zip(items, answers, strict=True)]

    def with_window(self, start_date: str | None, end_date: str | None) -> LiveCodeBench:
        """The same benchmark narrowed to a contest-date window."""
        return replace(self, start_date=start_date, end_date=end_date)


# --- grading ----------------------------------------------------------------------------------


def functional_program(code: str, func_name: str) -> str:
    """A program that runs ``code`` and checks ``func_name`` on the test read from stdin.

    Stdin holds ``{"input": "<one JSON value per line>", "output": "<JSON>"}``. The solution's own
    prints are swallowed; the program prints ``PASSED`` when the result (tuples read as lists)
    equals the expected value, else ``WRONG``; an exception fails the run.
    """
    return (
        "import io as _tl_io, json as _tl_json, sys as _tl_sys\n"
        "_tl_case = _tl_json.loads(_tl_sys.stdin.read())\n"
        "_tl_sys.stdin = _tl_io.StringIO('')\n"
        "_tl_out, _tl_sys.stdout = _tl_sys.stdout, _tl_io.StringIO()\n"
        "_tl_ns = {'__name__': 'solution'}\n"
        f"exec(compile({IMPORT_HEADER + code!r}, 'solution.py', 'exec'), _tl_ns)\n"
        f"_tl_fn = getattr(_tl_ns['Solution'](), {func_name!r}) if 'Solution' in _tl_ns else _tl_ns[{func_name!r}]\n"
        "_tl_args = [_tl_json.loads(line) for line in _tl_case['input'].split('\\n') if line.strip()]\n"
        "_tl_got = _tl_fn(*_tl_args)\n"
        "def _tl_plain(x):\n"
        "    if isinstance(x, (list, tuple)):\n"
        "        return [_tl_plain(v) for v in x]\n"
        "    if isinstance(x, dict):\n"
        "        return {k: _tl_plain(v) for k, v in x.items()}\n"
        "    return x\n"
        "_tl_sys.stdout = _tl_out\n"
        f"print({PASSED!r} if _tl_plain(_tl_got) == _tl_json.loads(_tl_case['output']) else 'WRONG')\n"
    )


def problem_tests(meta: dict[str, Any]) -> list[dict[str, str]]:
    """The public then the private tests of a problem."""
    return [*meta.get("public_tests", []), *decode_tests(meta.get("private_tests") or "")]


def grade_problem(meta: dict[str, Any], answer: str, timeout_s: float = 6.0) -> Verdict:
    """Extract the code of ``answer`` and run it on every test of the problem described by ``meta``.

    Score 1 only when every test passes. ``extracted`` says what happened ("passed 12/12",
    "wrong_answer at test 3 of 12"...); status ``no_answer`` when there is no code block,
    ``error`` when the tests cannot be read or a sandbox failed to start. Where no sandbox can
    run at all, :func:`~transferlab.sandbox.check_available` raises its error: code is
    never run outside the sandbox.
    """
    from transferlab.sandbox import SandboxLimits
    from transferlab.scoring.code import extract_code, run_stdio_tests

    code = extract_code(answer)
    if code is None:
        return Verdict(0.0, None, "no_answer")
    try:
        tests = problem_tests(meta)
    except DataError as err:
        return Verdict(0.0, f"unreadable tests: {err}", "error")
    if meta.get("testtype") == "functional":
        source = functional_program(code, str(meta.get("func_name")))
        pairs = [(json.dumps({"input": t["input"], "output": t["output"]}), PASSED) for t in tests]
    else:
        source = IMPORT_HEADER + code
        pairs = [(t["input"], t["output"]) for t in tests]
    verdict = run_stdio_tests(source, pairs, limits=SandboxLimits(timeout_s=timeout_s))
    if verdict.passed:
        return Verdict(1.0, f"passed {len(pairs)}/{len(pairs)}", "ok")
    if verdict.status in ("error", "no_tests"):
        return Verdict(0.0, verdict.detail or verdict.status, "error")
    return Verdict(0.0, f"{verdict.status} at test {verdict.failed_test} of {len(pairs)}", "ok")
