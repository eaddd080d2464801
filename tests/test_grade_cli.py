"""``transferlab grade``: answers made elsewhere graded by the real scorers, in real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.cli import main
from transferlab.errors import DataError
from transferlab.pipeline.grade import LineFields, grade_lines

TRANSFERLAB = Path(sys.executable).with_name("transferlab")  # the console script a user runs


def run_transferlab(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRANSFERLAB), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("module", ["dis", "random", "json"])
def test_grade_math_ignores_modules_in_the_current_folder(tmp_path: Path, module: str) -> None:
    """A file named like a standard-library module in the user's folder never reaches the grading
    workers (multiprocessing's ``python -c`` bootstrap would put that folder first on sys.path)."""
    (tmp_path / f"{module}.py").write_text('raise RuntimeError("the user\'s own module was imported")\n')
    lines = [{"gold": "12", "response": r"so \boxed{12}"}, {"gold": r"\frac12", "response": r"\boxed{0.5}"}, {"gold": "3", "response": r"\boxed{4}"}]
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = run_transferlab("grade", "math", "--in", "answers.jsonl", "--out", "verdicts.jsonl", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RuntimeError" not in done.stderr
    verdicts = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert [v["correct"] for v in verdicts] == [True, True, False]


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_grade_a_benchmark_by_item_id(shared_data: Path, tmp_path: Path, capsys) -> None:
    """The reference joined by id from MATH-500's data; the same split and scorer as `score`, the
    summary counting right, wrong, no answer, unclosed thinking and truncated."""
    items = [i for i in get_benchmark("math500").load(shared_data, limit=40) if str(i.reference).isdigit()][:5]
    gold = [str(i.reference) for i in items]
    lines = [
        {"id": items[0].id, "response": f"<think>try 1, 2</think>So \\boxed{{{gold[0]}}}."},
        {"id": items[1].id, "response": f"\\boxed{{{int(gold[1]) + 1}}}"},
        {"id": items[2].id, "response": f"<think>maybe \\boxed{{{gold[2]}}} and I keep"},
        {"id": items[3].id, "response": f"The answer is {gold[3]}.\n\nBut wait", "finish_reason": "length"},
        {"id": items[4].id, "response": "Nothing to say."},
    ]
    source = write_lines(tmp_path / "answers.jsonl", lines)
    out = tmp_path / "verdicts.jsonl"
    assert main(["grade", "math500", "--in", str(source), "--out", str(out), "--data-dir", str(shared_data), "--workers", "1"]) == 0
    got = read_lines(out)
    assert [g["reference"] for g in got] == gold
    assert [(g["correct"], g["grade_status"], g["thinking_status"]) for g in got] == [
        (True, "ok", "closed"),
        (False, "ok", "none"),
        (False, "truncated_thinking", "unclosed"),
        (False, "truncated", "none"),
        (False, "no_answer", "none"),
    ]
    assert all(g["id"] == line["id"] and g["response"] == line["response"] for g, line in zip(got, lines))  # the input kept
    summary = capsys.readouterr().err
    assert "graded 5 answers: 1 right (20.0%), 4 wrong (2 with no answer, 1 with unclosed thinking, 0 errors); 1 truncated" in summary


def test_grade_takes_the_reference_from_the_line(tmp_path: Path, capsys) -> None:
    """No data needed when each line holds its reference: CoQA's references, the best one counts."""
    lines = [
        {"gold": ["white", "white kitten"], "response": "<think>the kitten's colour</think>white"},
        {"gold": ["in a barn"], "response": "Answer: in the barn"},
        {"gold": ["no"], "response": "yes"},
    ]
    out = tmp_path / "verdicts.jsonl"
    assert main(["grade", "coqa", "--in", str(write_lines(tmp_path / "a.jsonl", lines)), "--out", str(out)]) == 0
    assert [g["score"] for g in read_lines(out)] == [1.0, 1.0, 0.0]  # "in the barn": articles do not count
    assert "graded 3 answers: 2 right" in capsys.readouterr().err


def test_gpqa_accepts_the_option_order_another_harness_used(shared_data: Path) -> None:
    """Given the options in another order (here reversed, with lm-eval-like spacing), the gold letter
    follows the correct answer. In memory only: GPQA's text is never written out."""
    items = get_benchmark("gpqa_diamond").load(shared_data, limit=6)
    rows, expected = [], []
    for k, item in enumerate(items):
        shown = [f"  {o} " for o in reversed(item.fields["options"])]
        gold_there = "DCBA"["ABCD".index(item.reference)]
        letter = gold_there if k % 2 == 0 else item.reference  # odd rows answer in our order: right only by chance
        rows.append({"Record ID": item.id, "options": shown, "response": f"Final Answer: \\boxed{{{letter}}}"})
        expected.append(letter == gold_there)
    got = grade_lines(rows, "gpqa_diamond", fields=LineFields(id="Record ID"), data_dir=shared_data)
    assert [g["reference"] for g in got] == ["DCBA"["ABCD".index(i.reference)] for i in items]
    assert [g["correct"] for g in got] == expected and expected[0] and expected[2] and expected[4]
    # The gold letter given in the line is taken as it is.
    got = grade_lines([{"id": items[0].id, "gold": "C", "response": "\\boxed{C}"}], "gpqa_diamond")
    assert (got[0]["reference"], got[0]["correct"]) == ("C", True)


@pytest.mark.parametrize(
    ("benchmark", "line", "words"),
    [
        ("math500", {"id": "test/precalculus/807.json", "answer": "5"}, "has no text field 'response'"),
        ("math500", {"response": "5"}, "has neither 'id' nor 'gold'"),
        ("math500", {"id": "no-such-item", "response": "5"}, "item id 'no-such-item' is not in math500's data"),
        ("halueval", {"id": "qa-0", "options": ["a", "b"], "response": "Yes"}, "gives options, which halueval does not take"),
    ],
)
def test_bad_lines_are_one_line_errors(shared_data: Path, tmp_path: Path, capsys, benchmark: str, line: dict, words: str) -> None:
    source = write_lines(tmp_path / "a.jsonl", [line])
    out = tmp_path / "v.jsonl"
    code = main(["grade", benchmark, "--in", str(source), "--out", str(out), "--data-dir", str(shared_data)])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1 and not out.exists()


def test_gpqa_options_that_do_not_hold_the_answer_are_an_error(shared_data: Path) -> None:
    item = get_benchmark("gpqa_diamond").load(shared_data, limit=1)[0]
    wrong = [o for k, o in enumerate(item.fields["options"]) if k != "ABCD".index(item.reference)] + ["none of these"]
    with pytest.raises(DataError, match="line 1 of the input: GPQA item .* none of the options given is its correct answer"):
        grade_lines([{"id": item.id, "options": wrong, "response": "A"}], "gpqa_diamond", data_dir=shared_data)


def test_grade_math_counts_truncated_answers(tmp_path: Path, capsys) -> None:
    lines = [
        {"gold": "7", "response": "so the answer is 7", "finish_reason": "length"},
        {"gold": "7", "response": "so \\boxed{7}. Let me also", "finish_reason": "length"},
        {"gold": "7", "response": "so the answer is 7"},
    ]
    out = tmp_path / "v.jsonl"
    assert main(["grade", "math", "--in", str(write_lines(tmp_path / "a.jsonl", lines)), "--out", str(out), "--workers", "1"]) == 0
    assert [(g["correct"], g["grade_status"]) for g in read_lines(out)] == [(False, "truncated"), (True, "ok"), (True, "ok")]
    assert "graded 3 answers: 2 right (66.7%), 1 wrong (1 with no answer, 0 with unclosed thinking, 0 errors); 2 truncated" in capsys.readouterr().err
