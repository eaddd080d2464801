"""The paper's three benchmark groups (PAPER.md section 1).

Benchmark names are fixed: they key stored results, score files and study specs. ``headqa`` and
``mctaco`` are log-likelihood multiple choice as in the paper; ``headqa_gen`` and ``mctaco_gen`` are
the same items answered by generation (a letter or yes/no extracted), for chat and reasoning models.
"""

from __future__ import annotations

from typing import Final, Literal

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
