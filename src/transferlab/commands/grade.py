"""``transferlab grade``: grade answers produced elsewhere (another harness's outputs).

``grade math`` takes the reference from each line; ``grade BENCHMARK`` (any registered benchmark)
joins it by item id from the benchmark's data, or takes it from the line. Both print a summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.io import read_jsonl, resolve_data_dir, write_jsonl_atomic
from transferlab.options import ANSWER_STYLES, MATH_GRADERS, THINKING_PARSERS
from transferlab.scoring.graded import GradeSummary, grade_math_rows


def cmd_grade_math(args: argparse.Namespace) -> int:
    rows = grade_math_rows(
        list(read_jsonl(Path(args.input))),
        where=args.input,
        gold_field=args.gold_field,
        response_field=args.response_field,
        unit_field=args.unit_field,
        finish_field=args.finish_field,
        style=args.style,
        grader=args.grader,
        thinking_parser=args.thinking_parser,
        workers=args.workers,
        timeout_s=args.timeout,
    )
    write_jsonl_atomic(Path(args.out), rows)
    print(GradeSummary.of(rows, args.finish_field).line(), file=sys.stderr)
    return 0


def cmd_grade_benchmark(args: argparse.Namespace) -> int:
    from transferlab.pipeline.grade import LineFields, grade_lines

    fields = LineFields(id=args.id_field, response=args.response_field, gold=args.gold_field, options=args.options_field, finish=args.finish_field)
    rows = grade_lines(
        list(read_jsonl(Path(args.input))),
        args.grade_kind,
        where=args.input,
        fields=fields,
        thinking_parser=args.thinking_parser,
        paper_scoring=args.paper_scoring,
        math_grader=args.math_grader,
        data_dir=resolve_data_dir(args.data_dir),
        workers=args.workers,
        timeout_s=args.timeout,
    )
    write_jsonl_atomic(Path(args.out), rows)
    print(GradeSummary.of(rows, args.finish_field).line(), file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--in", dest="input", required=True, help="JSONL input, one answer a line")
    p.add_argument("--out", required=True, help="JSONL output: each input line plus correct, score, extracted, grade_status, thinking_status")
    p.add_argument("--response-field", default="response")
    p.add_argument("--finish-field", default="finish_reason", help="optional field: 'length' marks an answer cut off by its token budget")
    p.add_argument("--thinking-parser", default="think", choices=THINKING_PARSERS, help="how to strip thinking before grading")
    p.add_argument("--workers", type=int, default=None, help="math grading processes")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per math answer")


def register(subparsers: Any) -> None:
    from transferlab.benchmarks import REGISTRY

    p = subparsers.add_parser("grade", help="grade outputs made elsewhere (docs/grading.md)")
    sub = p.add_subparsers(dest="grade_kind", metavar="math|BENCHMARK", required=True)
    m = sub.add_parser("math", help="grade JSONL lines holding a reference answer and a response")
    _common(m)
    m.add_argument("--gold-field", default="gold")
    m.add_argument("--unit-field", default="unit", help="optional field with the answer's unit (OlympiadBench)")
    m.add_argument("--style", default="boxed", choices=ANSWER_STYLES, help="answer extraction: last \\boxed{} (boxed) or GSM8K's fallbacks")
    m.add_argument(
        "--grader",
        default="transferlab",
        choices=MATH_GRADERS,
        help="transferlab (default), or qwen25-math: the verdicts of the Qwen2.5-Math evaluation harness, its known errors included",
    )
    m.set_defaults(func=cmd_grade_math)
    for name in REGISTRY:
        b = sub.add_parser(name, help=f"grade {name} answers: the reference joined by item id from its data, or taken from the line")
        _common(b)
        b.add_argument("--id-field", default="id", help="the field holding the item id the answer is for")
        b.add_argument("--gold-field", default="gold", help="optional field holding the reference itself (then no data is needed)")
        b.add_argument("--options-field", default="options", help="GPQA: the option texts in the order the other harness showed them")
        b.add_argument("--data-dir", default=None, help="a folder laid out like shared/data (default: the Hugging Face hub)")
        b.add_argument("--paper-scoring", action="store_true", help="grade with the study's own scorer where it differs")
        b.add_argument("--math-grader", default="transferlab", choices=MATH_GRADERS, help="the math benchmarks' grader")
        b.set_defaults(func=cmd_grade_benchmark)
