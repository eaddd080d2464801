"""What a benchmark hands the pipeline and what a scorer hands back: :class:`Item` and :class:`Verdict`.

These sit below every package that makes or grades items (the mini-world generates them, the
benchmarks load them, the scorers judge answers to them), so that none of those packages needs
another to name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Item", "ScoringContext", "Verdict"]


@dataclass(frozen=True)
class Item:
    """One benchmark question.

    ``fields`` holds what prompts are rendered from (question text, options...), ``reference`` the
    gold answer(s), ``meta`` anything a scorer needs besides (units, answer types...).
    """

    id: str
    fields: dict[str, Any]
    reference: Any
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """A scorer's judgement of one answer: ``score`` in [0, 1], the extracted answer, a status.

    ``status`` is ``"ok"`` when the scorer could judge, else why not (``"no_answer"``,
    ``"truncated"``, ``"truncated_thinking"``, ``"timeout"``, ``"error"``); a non-ok answer always
    scores 0. ``details`` holds secondary metrics (acc_norm, IFEval's loose and instruction-level
    results...), stored with the score.
    """

    score: float
    extracted: str | None
    status: str = "ok"
    details: dict[str, Any] | None = None


class ScoringContext(Protocol):
    """Shared, lazily started scoring resources (the math worker pool...)."""

    def math_pool(self) -> Any:
        """The process pool that checks math answers (:class:`~transferlab.scoring.math_pool.MathGradingPool`)."""
        ...
