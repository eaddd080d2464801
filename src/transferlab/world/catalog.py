"""The twelve families of the mini-world, four per group, and their train and test splits."""

from __future__ import annotations

from transferlab.benchmarks.base import Item
from transferlab.errors import DataError
from transferlab.world import tasks_math, tasks_non, tasks_other
from transferlab.world.families import (
    DEFAULT_TEST_SIZE, TEST_SEED, Family, Task, check_exact, check_letter, check_math, check_yes_no, family_tasks, to_item,
)


def _answer(task: Task) -> str:
    return str(task.reference)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("world_arith", "math", "gsm8k", tasks_math.arith, check_math),
        Family("world_numtheory", "math", "aime24", tasks_math.numtheory, check_math),
        Family("world_equation", "math", "math500", tasks_math.equation, check_math),
        Family("world_multipart", "math", "olympiadbench", tasks_math.multipart, check_math),
        Family("world_plan", "other", "acpbench", tasks_other.plan, check_yes_no, _answer),
        Family("world_trace", "other", "livecodebench", tasks_other.trace, check_exact),
        Family("world_deduce", "other", "gpqa_diamond", tasks_other.deduce, check_letter, _answer),
        Family("world_fact", "other", "headqa", tasks_other.fact, check_letter, _answer),
        Family("world_format", "non", "ifeval", tasks_non.format_task, tasks_non.check_format),
        Family("world_read", "non", "coqa", tasks_non.read, check_exact),
        Family("world_support", "non", "halueval", tasks_non.support, check_yes_no, _answer),
        Family("world_time", "non", "mctaco", tasks_non.time_task, check_yes_no, _answer),
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
