"""The paper's three benchmark groups (PAPER.md section 1).

Benchmark names are fixed: they key stored results, score files and study specs.
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
    "coqa": "non",
    "ifeval": "non",
    "halueval": "non",
    "mctaco": "non",
}


def group_of(benchmark: str) -> Group:
    """The group of a benchmark name; raises ``KeyError`` for an unknown name."""
    return BENCHMARK_GROUPS[benchmark]
