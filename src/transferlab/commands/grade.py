"""``transferlab grade math``: grade answers produced elsewhere (another harness's outputs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transferlab.commands.common import write_jsonl_atomic
from transferlab.errors import DataError
from transferlab.scoring.math import MATH_GRADERS


def cmd_grade_math(args: argparse.Namespace) -> int:
    from transferlab.benchmarks.base import read_jsonl
    from transferlab.scoring.math import MathGrader, MathTask
    from transferlab.scoring.thinking import split_thinking

    rows = list(read_jsonl(Path(args.input)))
    tasks, splits = [], []
    for number, row in enumerate(rows, start=1):
        for name in (args.gold_field, args.response_field):
            if name not in row:
                raise DataError(f"line {number} of {args.input} has no field {name!r}", "name the fields with --gold-field / --response-field")
        split = split_thinking(str(row[args.response_field]), args.thinking_parser)
        splits.append(split)
        gold = row[args.gold_field]
        tasks.append(MathTask(response=split.answer, gold=[str(g) for g in gold] if isinstance(gold, list) else str(gold), style=args.style, unit=row.get(args.unit_field) or None, grader=args.grader))
    with MathGrader(workers=args.workers, timeout_s=args.timeout) as grader:
        verdicts = grader.grade([t for t, s in zip(tasks, splits) if not s.truncated_thinking])
    verdict_iter = iter(verdicts)
    out_rows = []
    for row, split in zip(rows, splits):
        if split.truncated_thinking:
            row.update(correct=False, extracted=None, grade_status="truncated_thinking")
        else:
            v = next(verdict_iter)
            row.update(correct=v.correct, extracted=v.extracted, grade_status=v.status)
        out_rows.append(row)
    n = write_jsonl_atomic(Path(args.out), out_rows)
    correct = sum(bool(r["correct"]) for r in out_rows)
    print(f"graded {n} answers: {correct} correct ({100 * correct / max(n, 1):.1f}%)", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("grade", help="grade outputs made elsewhere")
    sub = p.add_subparsers(dest="grade_kind", metavar="KIND", required=True)
    m = sub.add_parser("math", help="grade JSONL lines holding a reference answer and a response")
    m.add_argument("--in", dest="input", required=True, help="JSONL input")
    m.add_argument("--out", required=True, help="JSONL output: each input line plus correct, extracted, grade_status")
    m.add_argument("--gold-field", default="gold")
    m.add_argument("--response-field", default="response")
    m.add_argument("--unit-field", default="unit", help="optional field with the answer's unit (OlympiadBench)")
    m.add_argument("--style", default="boxed", choices=("boxed", "gsm8k"), help="answer extraction: last \\boxed{} (boxed) or GSM8K's fallbacks")
    m.add_argument("--grader", default="transferlab", choices=MATH_GRADERS, help="transferlab (default), or qwen25-math: the verdicts of the Qwen2.5-Math evaluation harness, its known errors included")
    m.add_argument("--thinking-parser", default="think", choices=("think", "think-end", "none"), help="how to strip thinking before grading")
    m.add_argument("--workers", type=int, default=None)
    m.add_argument("--timeout", type=float, default=5.0, help="seconds per answer")
    m.set_defaults(func=cmd_grade_math)
