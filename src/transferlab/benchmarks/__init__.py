"""The benchmark registry: fixed names mapped to benchmark objects (no YAML, no strings elsewhere).

``get_benchmark("gsm8k")`` returns an object following :class:`~transferlab.benchmarks.base.Benchmark`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from transferlab.benchmarks.base import Benchmark, Item, Verdict
from transferlab.groups import BENCHMARK_GROUPS, GROUPS, group_of
from transferlab.benchmarks.math import MATH_BENCHMARKS
from transferlab.benchmarks.non_group import NON_BENCHMARKS
from transferlab.benchmarks.other_group import OTHER_BENCHMARKS
from transferlab.errors import DataError
from transferlab.scoring.math import MATH_GRADERS
from transferlab.benchmarks.world import WORLD_BENCHMARKS

REGISTRY: dict[str, Benchmark] = {**MATH_BENCHMARKS, **OTHER_BENCHMARKS, **NON_BENCHMARKS, **WORLD_BENCHMARKS}


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; an unknown name is a :class:`DataError` listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        planned = sorted(set(BENCHMARK_GROUPS) - set(REGISTRY))
        hint = f" ({', '.join(planned)} are not implemented yet)" if name in planned else ""
        raise DataError(f"unknown benchmark {name!r}{hint}", f"choose from {', '.join(sorted(REGISTRY))}") from None


# The study's own scoring, kept behind an explicit option so its numbers can be compared: GPQA's
# letter scan over the whole output, HaluEval's first-line reading (both careless), and CoQA's
# leave-one-out averaging over the references (lm-eval's and the official script's). Each variant
# records under its own scorer name, beside the default.
PAPER_SCORING: dict[str, dict[str, Any]] = {
    "gpqa_diamond": {"extraction": "paper"},
    "halueval": {"first_line_only": True},
    "coqa": {"leave_one_out": True},
}


# Math graded as the Qwen2.5-Math evaluation harness grades it (``--math-grader qwen25-math``), to
# compare with numbers that harness produced; stored under its own scorer name.
MATH_GRADER_SCORERS = dict(zip(MATH_GRADERS, ("math", "math_qwen25"), strict=True))


def scoring_variant(name: str, *, paper: bool = False, math_grader: str = "transferlab") -> Benchmark:
    """The benchmark that scores ``name``: the registered one, its paper-scoring variant, or (for the
    math benchmarks) the one whose math grader is ``math_grader``."""
    benchmark = get_benchmark(name)
    if math_grader not in MATH_GRADER_SCORERS:
        raise DataError(f"unknown math grader {math_grader!r}", f"choose from {', '.join(MATH_GRADER_SCORERS)}")
    if paper and name in PAPER_SCORING:
        return dataclasses.replace(benchmark, **PAPER_SCORING[name])  # type: ignore[type-var]
    if math_grader != "transferlab" and getattr(benchmark, "scorer", None) == "math" and hasattr(benchmark, "math_grader"):
        return dataclasses.replace(benchmark, math_grader=math_grader, scorer=MATH_GRADER_SCORERS[math_grader])  # type: ignore[type-var]
    return benchmark


def parse_benchmarks(spec: str) -> list[Benchmark]:
    """Benchmarks from a comma-separated list of names, in order, without duplicates."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise DataError("no benchmark named", f"pass --benchmarks with names from {', '.join(sorted(REGISTRY))}")
    return [get_benchmark(n) for n in dict.fromkeys(names)]


__all__ = ["BENCHMARK_GROUPS", "GROUPS", "MATH_GRADER_SCORERS", "PAPER_SCORING", "REGISTRY", "Benchmark", "Item", "Verdict", "get_benchmark", "group_of", "parse_benchmarks", "scoring_variant"]
