"""How often our math scorer agrees with published verdicts on real model outputs.

Run: ``python -m transferlab.scoring.agreement [--data-dir /work/shared/data] [--workers N] [--grader qwen25-math]``

The files (see ``math_generations/SOURCE.md``) are outputs in the Qwen2.5-Math evaluation format:
``math_cot_100.jsonl`` (100 MATH problems × 8 responses) and two OlympiadBench runs from PRIME
(675 × 1). Each row holds the responses (``code``), the published verdicts (``score``, from the
Qwen2.5-Math grader), the published extracted answers (``pred``) and the reference: ``answer``
(the original MATH answer) where present, else ``gt`` (the Qwen-normalised reference, the only one
in the OlympiadBench files), with OlympiadBench's ``unit`` and ``answer_type``.

A disagreement is not necessarily our error: the table prints every one so that a person can judge.
``--grader qwen25-math`` measures the compatibility grader instead (``qwen_compat.py``): it grades
against ``gt`` as that harness did, and the table also counts how often its extracted answer is
the published ``pred`` exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.options import MATH_GRADERS, MathGraderName
from transferlab.scoring.math import MathTask
from transferlab.scoring.math_pool import MathGradingPool

__all__ = ["AGREEMENT_FILES", "Disagreement", "FileAgreement", "default_data_dir", "grade_file", "main"]

AGREEMENT_FILES = (
    "math_generations/math_cot_100.jsonl",
    "math_generations/prime_olympiadbench/Meta-Llama-3.1-8B-Instruct/test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
    "math_generations/prime_olympiadbench/Qwen2.5-Math-7B-Instruct/test_qwen25-math-cot_-1_seed0_t0.0_s0_e-1.jsonl",
)


@dataclass(frozen=True)
class Disagreement:
    """One response where our verdict differs from the published one."""

    index: int  # the row's ``idx``
    sample: int  # which response of the row
    gold: str
    ours_extracted: str | None
    their_pred: str | None
    theirs: bool
    ours: bool
    status: str


@dataclass
class FileAgreement:
    """Agreement figures for one file."""

    name: str
    n: int
    agree: int
    ours_correct: int
    theirs_correct: int
    seconds: float
    disagreements: list[Disagreement] = field(default_factory=list)
    same_extraction: int = 0  # our extracted answer is the published ``pred`` exactly

    @property
    def agreement(self) -> float:
        return self.agree / self.n if self.n else 0.0

    @property
    def ours_accuracy(self) -> float:
        return self.ours_correct / self.n if self.n else 0.0

    @property
    def theirs_accuracy(self) -> float:
        return self.theirs_correct / self.n if self.n else 0.0


def default_data_dir() -> Path:
    """``$TRANSFERLAB_SHARED_DATA``, else ``../shared/data`` relative to the working directory."""
    env = os.environ.get("TRANSFERLAB_SHARED_DATA")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


def _rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _tasks(rows: list[dict[str, Any]], math_grader: MathGraderName) -> list[tuple[dict[str, Any], int, MathTask]]:
    out = []
    for row in rows:
        # The harness graded against its own normalised reference, ``gt``.
        gold = row["gt"] if math_grader == "qwen25-math" else (row.get("answer") or row["gt"])
        for sample, response in enumerate(row["code"]):
            task = MathTask(
                response=response,
                gold=gold,
                unit=row.get("unit") or None,
                answer_type=row.get("answer_type") or None,
                grader=math_grader,
            )
            out.append((row, sample, task))
    return out


def grade_file(path: Path, grader: MathGradingPool, *, math_grader: MathGraderName = "transferlab") -> FileAgreement:
    """Grade every response of one file with ``math_grader`` and compare with its published ``score``."""
    items = _tasks(_rows(path), math_grader)
    started = time.perf_counter()
    verdicts = grader.grade([task for _, _, task in items])
    seconds = time.perf_counter() - started
    result = FileAgreement(path.name if "olympiad" not in str(path) else path.parent.name, len(items), 0, 0, 0, seconds)
    for (row, sample, task), verdict in zip(items, verdicts):
        theirs = bool(row["score"][sample])
        preds = row.get("pred") or []
        result.same_extraction += sample < len(preds) and (verdict.extracted or "") == preds[sample]
        result.ours_correct += verdict.correct
        result.theirs_correct += theirs
        if verdict.correct == theirs:
            result.agree += 1
            continue
        result.disagreements.append(
            Disagreement(
                index=int(row.get("idx", -1)),
                sample=sample,
                gold=task.gold if isinstance(task.gold, str) else ",".join(task.gold),
                ours_extracted=verdict.extracted,
                their_pred=preds[sample] if sample < len(preds) else None,
                theirs=theirs,
                ours=verdict.correct,
                status=verdict.status,
            )
        )
    return result


def _print(results: Sequence[FileAgreement]) -> None:
    header = f"{'file':<30} {'n':>5} {'agree':>8} {'ours':>7} {'theirs':>7} {'same pred':>9} {'items/s':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name[:30]:<30} {r.n:>5} {100 * r.agreement:>7.2f}% {100 * r.ours_accuracy:>6.1f}%"
            f" {100 * r.theirs_accuracy:>6.1f}% {100 * r.same_extraction / max(r.n, 1):>8.1f}% {r.n / max(r.seconds, 1e-9):>8.1f}"
        )
    for r in results:
        print(f"\n== {r.name}: {len(r.disagreements)} disagreements")
        for d in r.disagreements:
            print(f"  idx {d.index} #{d.sample}: gold {d.gold!r} | ours {d.ours_extracted!r} -> {d.ours} ({d.status}) | theirs {d.their_pred!r} -> {d.theirs}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="the shared data folder")
    parser.add_argument("--workers", type=int, default=None, help="grader worker processes")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per answer")
    parser.add_argument("--grader", default="transferlab", choices=MATH_GRADERS, help="the math grader to measure")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    paths = [data_dir / name for name in AGREEMENT_FILES]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        parser.error(f"missing data files: {missing}; pass --data-dir or set TRANSFERLAB_SHARED_DATA")
    with MathGradingPool(workers=args.workers, timeout_s=args.timeout) as grader:
        _print([grade_file(path, grader, math_grader=args.grader) for path in paths])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
