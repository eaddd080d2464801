"""The benchmark registry: fixed names mapped to benchmark objects (no YAML, no strings elsewhere).

``get_benchmark("gsm8k")`` returns an object following :class:`~transferlab.benchmarks.base.Benchmark`.
Each benchmark family has its own module; their groups are the one table in :mod:`transferlab.groups`.

- math: MATH-500, AIME 2024/2025, OlympiadBench, GSM8K (:mod:`~transferlab.benchmarks.math`);
- other reasoning, each the study's setting: GPQA-Diamond (options shuffled per item),
  LiveCodeBench (release_v2), ACPBench (the 7 MCQ tasks, dev files), HeadQA by log-likelihood
  (``headqa_gen``: by generation); variants are the same classes with other arguments
  (``GPQADiamond(extraction="paper")``, ``LiveCodeBench(release="release_v5", start_date="2024-08-01")``,
  ``ACPBench(kind="bool", split="test")``);
- non-reasoning: CoQA, IFEval, HaluEval, MC-TACO by log-likelihood as in the study (``mctaco_gen``:
  the same rows by generation, for chat and reasoning models);
- the mini-world's twelve families (:mod:`~transferlab.benchmarks.world`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from transferlab.benchmarks.acpbench import ACPBench
from transferlab.benchmarks.base import Benchmark
from transferlab.benchmarks.coqa import CoQA
from transferlab.benchmarks.gpqa import GPQADiamond
from transferlab.benchmarks.halueval import HaluEval
from transferlab.benchmarks.headqa import HeadQA, HeadQAGen
from transferlab.benchmarks.ifeval import IFEval
from transferlab.benchmarks.livecodebench import LiveCodeBench
from transferlab.benchmarks.math import MATH_BENCHMARKS, MathBenchmark
from transferlab.benchmarks.mctaco import MCTaco
from transferlab.benchmarks.world import WORLD_BENCHMARKS
from transferlab.errors import DataError
from transferlab.groups import BENCHMARK_GROUPS
from transferlab.options import MATH_GRADERS, MathGraderName

__all__ = ["MATH_GRADER_SCORERS", "PAPER_SCORING", "REGISTRY", "Benchmark", "get_benchmark", "parse_benchmarks", "scoring_variant"]

_OTHER: tuple[Benchmark, ...] = (GPQADiamond(), LiveCodeBench(), ACPBench(), HeadQA(), HeadQAGen())
_NON: tuple[Benchmark, ...] = (CoQA(), IFEval(), HaluEval(), MCTaco(), MCTaco(name="mctaco_gen", mode="generate"))

REGISTRY: dict[str, Benchmark] = {**MATH_BENCHMARKS, **{b.name: b for b in _OTHER + _NON}, **WORLD_BENCHMARKS}


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; an unknown name is a :class:`DataError` listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        planned = sorted(set(BENCHMARK_GROUPS) - set(REGISTRY))
        hint = f" ({', '.join(planned)} are not implemented yet)" if name in planned else ""
        raise DataError(f"unknown benchmark {name!r}{hint}", f"choose from {', '.join(sorted(REGISTRY))}") from None


# The study's own scoring, kept behind an explicit option so its numbers can be compared: GPQA's
# letter scan over the whole output, HaluEval's first-line reading (both careless), and CoQA's first
# line after the last </think> with leave-one-out averaging over the references (lm-eval's and the
# official script's). Each reads the whole completion, thinking included, as the study's code did
# (``raw_completion``), and records under its own scorer name, beside the default.
PAPER_SCORING: dict[str, Callable[[], Benchmark]] = {
    "gpqa_diamond": lambda: GPQADiamond(extraction="paper"),
    "halueval": lambda: HaluEval(first_line_only=True),
    "coqa": lambda: CoQA(leave_one_out=True),
}


# Math graded as the Qwen2.5-Math evaluation harness grades it (``--math-grader qwen25-math``), to
# compare with numbers that harness produced; stored under its own scorer name.
MATH_GRADER_SCORERS: dict[MathGraderName, str] = dict(zip(MATH_GRADERS, ("math", "math_qwen25"), strict=True))


def scoring_variant(name: str, *, paper: bool = False, math_grader: MathGraderName = "transferlab") -> Benchmark:
    """The benchmark that scores ``name``: the registered one, its paper-scoring variant, or (for the
    math benchmarks) the one whose math grader is ``math_grader``."""
    benchmark = get_benchmark(name)
    if math_grader not in MATH_GRADER_SCORERS:
        raise DataError(f"unknown math grader {math_grader!r}", f"choose from {', '.join(MATH_GRADER_SCORERS)}")
    if paper and name in PAPER_SCORING:
        return PAPER_SCORING[name]()
    if math_grader != "transferlab" and isinstance(benchmark, MathBenchmark):
        return dataclasses.replace(benchmark, math_grader=math_grader, scorer=MATH_GRADER_SCORERS[math_grader])
    return benchmark


def parse_benchmarks(spec: str) -> list[Benchmark]:
    """Benchmarks from a comma-separated list of names, in order, without duplicates."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise DataError("no benchmark named", f"pass --benchmarks with names from {', '.join(sorted(REGISTRY))}")
    return [get_benchmark(n) for n in dict.fromkeys(names)]
