"""The twelve families of the mini-world, four per group, and their train and test splits."""

from __future__ import annotations

from typing import Any

from transferlab.errors import DataError
from transferlab.groups import group_of
from transferlab.items import Item
from transferlab.world import tasks_math, tasks_non, tasks_other
from transferlab.world.families import (
    DEFAULT_TEST_SIZE,
    TEST_SEED,
    Family,
    Task,
    check_exact,
    check_letter,
    check_math,
    check_yes_no,
    family_tasks,
    to_item,
)


def _answer(task: Task) -> str:
    return str(task.reference)


def _family(name: str, mirrors: str, generate: Any, check: Any, label_of: Any = None) -> Family:
    """A family whose group is the one :data:`transferlab.groups.BENCHMARK_GROUPS` gives its name."""
    return Family(name, group_of(name), mirrors, generate, check, label_of)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _family("world_arith", "gsm8k", tasks_math.arith, check_math),
        _family("world_numtheory", "aime24", tasks_math.numtheory, check_math),
        _family("world_equation", "math500", tasks_math.equation, check_math),
        _family("world_multipart", "olympiadbench", tasks_math.multipart, check_math),
        _family("world_plan", "acpbench", tasks_other.plan, check_yes_no, _answer),
        _family("world_trace", "livecodebench", tasks_other.trace, check_exact),
        _family("world_deduce", "gpqa_diamond", tasks_other.deduce, check_letter, _answer),
        _family("world_fact", "headqa", tasks_other.fact, check_letter, _answer),
        _family("world_format", "ifeval", tasks_non.format_task, tasks_non.check_format),
        _family("world_read", "coqa", tasks_non.read, check_exact),
        _family("world_support", "halueval", tasks_non.support, check_yes_no, _answer),
        _family("world_time", "mctaco", tasks_non.time_task, check_yes_no, _answer),
    )
}
MATH_FAMILIES: tuple[str, ...] = tuple(n for n, f in FAMILIES.items() if f.group == "math")


def get_family(name: str) -> Family:
    """The family called ``name``; an unknown name is a :class:`DataError` listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise DataError(f"unknown world family {name!r}", f"choose from {', '.join(FAMILIES)}") from None


def train_items(family: str, n: int, seed: int) -> list[Item]:
    """``n`` TRAIN items of a family (never in the test split; repeats possible), deterministic for a seed."""
    fam = get_family(family)
    return [to_item(fam, t) for t in family_tasks(fam, n, seed, test=False)]


def test_items(family: str, n: int = DEFAULT_TEST_SIZE, seed: int = TEST_SEED) -> list[Item]:
    """``n`` distinct held-out TEST items of a family, deterministic for a seed."""
    fam = get_family(family)
    return [to_item(fam, t) for t in family_tasks(fam, n, seed, test=True)]
