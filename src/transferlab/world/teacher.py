"""The world's step-by-step solver: the teacher traces that SFT learns from (math families only).

A trace is the model's thinking format, short: ``<think>12*3=36\\n36+5=41</think>\\boxed{41}``,
one worked operation per line, then the final answer in ``\\boxed{}`` (two answers for
``world_multipart``: ``\\boxed{7, 3}``).
"""

from __future__ import annotations

from transferlab.errors import DataError
from transferlab.items import Item
from transferlab.world.tasks_math import reference_text

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def teacher_trace(item: Item) -> str:
    """The worked solution of a math item in the thinking format (it scores correct by construction)."""
    steps = item.meta.get("steps")
    if not steps:
        raise DataError(
            f"item {item.id} has no worked steps (teacher traces exist for math families only)",
            "pass an item of world_arith, world_numtheory, world_equation or world_multipart",
        )
    return THINK_OPEN + "\n".join(steps) + THINK_CLOSE + "\\boxed{" + reference_text(item.reference) + "}"
