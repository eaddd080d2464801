"""The paper's three benchmark groups (PAPER.md section 1).

Benchmark names are fixed: they key stored results, score files and study specs. ``headqa`` and
``mctaco`` are log-likelihood multiple choice as in the paper; ``headqa_gen`` and ``mctaco_gen`` are
the same items answered by generation (a letter or yes/no extracted), for chat and reasoning models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

from transferlab.errors import DataError

Group = Literal["math", "other", "non"]

GROUPS: Final[tuple[Group, ...]] = ("math", "other", "non")

BENCHMARK_GROUPS: Final[dict[str, Group]] = {
    "math500": "math",
    "aime24": "math",
    "aime25": "math",
    "olympiadbench": "math",
    "gsm8k": "math",
    "gpqa_diamond": "other",
    "livecodebench": "other",
    "acpbench": "other",
    "headqa": "other",
    "headqa_gen": "other",
    "coqa": "non",
    "ifeval": "non",
    "halueval": "non",
    "mctaco": "non",
    "mctaco_gen": "non",
    # the mini-world (transferlab.world): four generated families per group
    "world_arith": "math",
    "world_numtheory": "math",
    "world_equation": "math",
    "world_multipart": "math",
    "world_plan": "other",
    "world_trace": "other",
    "world_deduce": "other",
    "world_fact": "other",
    "world_format": "non",
    "world_read": "non",
    "world_support": "non",
    "world_time": "non",
}


def group_of(benchmark: str) -> Group:
    """The group of a benchmark name; raises ``KeyError`` for an unknown name."""
    return BENCHMARK_GROUPS[benchmark]


def resolve_groups(benchmarks: Sequence[str], groups: Mapping[str, Group] | None = None) -> dict[str, Group]:
    """The group of each benchmark: ``groups`` first, then the built-in names; unknown names raise
    one :class:`~transferlab.errors.DataError` naming them and the known names."""
    extra = dict(groups or {})
    out: dict[str, Group] = {}
    unknown = []
    for bench in benchmarks:
        group = extra.get(bench, BENCHMARK_GROUPS.get(bench))
        if group is None:
            unknown.append(bench)
        elif group not in GROUPS:
            raise DataError(f"benchmark {bench!r} has group {group!r}", f"use one of {', '.join(GROUPS)}")
        else:
            out[bench] = group
    if unknown:
        raise DataError(
            f"unknown benchmark {', '.join(repr(u) for u in unknown)}; known: {', '.join(sorted(BENCHMARK_GROUPS))}",
            "rename it or give its group (math, other or non)",
        )
    return out
