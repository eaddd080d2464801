"""The world's step-by-step solver: the teacher traces that SFT learns from (math families only).

A trace is the model's thinking format, short: ``<think>12*3=36\\n36+5=41</think>\\boxed{41}``,
one worked operation per line, then the final answer in ``\\boxed{}`` (two answers for
``world_multipart``: ``\\boxed{7, 3}``).
"""

from __future__ import annotations

from transferlab.benchmarks.base import Item
from transferlab.errors import DataError

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def reference_text(reference: object) -> str:
    """A world reference as the one string written in ``\\boxed{}`` and given to the math scorer.

    A multi-part reference (a list, e.g. ``["9", "14"]``) becomes ``"9, 14"``: the scorer splits a
    reference on top-level commas into the parts that must all be given, so the string and the
    list are graded alike (``str(["9", "14"])``, ``"['9', '14']"``, would match no answer).
    """
    if isinstance(reference, (list, tuple)):
        return ", ".join(str(part) for part in reference)
    return str(reference)


def teacher_trace(item: Item) -> str:
    """The worked solution of a math item in the thinking format (it scores correct by construction)."""
    steps = item.meta.get("steps")
    if not steps:
        raise DataError(f"item {item.id} has no worked steps (teacher traces exist for math families only)", "pass an item of world_arith, world_numtheory, world_equation or world_multipart")
    return THINK_OPEN + "\n".join(steps) + THINK_CLOSE + "\\boxed{" + reference_text(item.reference) + "}"
