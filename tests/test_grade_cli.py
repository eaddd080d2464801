"""``transferlab grade``: answers made elsewhere graded by the real scorers, in real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
