"""``transferlab grade math``: grade answers produced elsewhere (another harness's outputs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.io import read_jsonl, write_jsonl_atomic
from transferlab.options import ANSWER_STYLES, MATH_GRADERS, THINKING_PARSERS
from transferlab.scoring.graded import grade_math_rows


def cmd_grade_math(args: argparse.Namespace) -> int:
    rows = grade_math_rows(
        list(read_jsonl(Path(args.input))),
        where=args.input,
        gold_field=args.gold_field,
        response_field=args.response_field,
        unit_field=args.unit_field,
        style=args.style,
        grader=args.grader,
        thinking_parser=args.thinking_parser,
        workers=args.workers,
        timeout_s=args.timeout,
    )
    n = write_jsonl_atomic(Path(args.out), rows)
    correct = sum(bool(r["correct"]) for r in rows)
    print(f"graded {n} answers: {correct} correct ({100 * correct / max(n, 1):.1f}%)", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("grade", help="grade outputs made elsewhere")
    sub = p.add_subparsers(dest="grade_kind", metavar="KIND", required=True)
    m = sub.add_parser("math", help="grade JSONL lines holding a reference answer and a response")
    m.add_argument("--in", dest="input", required=True, help="JSONL input")
    m.add_argument("--out", required=True, help="JSONL output: each input line plus correct, extracted, grade_status")
    m.add_argument("--gold-field", default="gold")
    m.add_argument("--response-field", default="response")
    m.add_argument("--unit-field", default="unit", help="optional field with the answer's unit (OlympiadBench)")
    m.add_argument("--style", default="boxed", choices=ANSWER_STYLES, help="answer extraction: last \\boxed{} (boxed) or GSM8K's fallbacks")
    m.add_argument(
        "--grader",
        default="transferlab",
        choices=MATH_GRADERS,
        help="transferlab (default), or qwen25-math: the verdicts of the Qwen2.5-Math evaluation harness, its known errors included",
    )
    m.add_argument("--thinking-parser", default="think", choices=THINKING_PARSERS, help="how to strip thinking before grading")
    m.add_argument("--workers", type=int, default=None)
    m.add_argument("--timeout", type=float, default=5.0, help="seconds per answer")
    m.set_defaults(func=cmd_grade_math)
