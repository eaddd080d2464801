"""GRPO rewards: the evaluation's own math scorer, and DAPO's soft overlong penalty.

There is no second grader: :class:`MathReward` splits the thinking off a rollout and grades the
answer exactly as the scoring pipeline does (:func:`transferlab.scoring.graded.split_and_grade`; a
thinking block that never closed scores 0, as in evaluation), with
:class:`~transferlab.scoring.math_pool.MathGradingPool` (math-verify in worker processes with a hard
time limit per answer), as every math benchmark does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from transferlab.errors import ConfigError, TransferlabError
from transferlab.items import Verdict
from transferlab.options import THINKING_PARSERS, AnswerStyle, ThinkingParser
from transferlab.scoring.graded import split_and_grade
from transferlab.scoring.math import MathTask
from transferlab.scoring.math_pool import MathGradingPool


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, or a list of chat messages (conversational data)."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role", "assistant") == "assistant")


class MathReward:
    """A TRL reward function: 1.0 when the math scorer accepts the final answer, else 0.0.

    Called by ``GRPOTrainer`` as ``reward(prompts=..., completions=..., answer=[...], **columns)``:
    ``answer`` is the dataset column holding each prompt's reference; an optional ``answer_style``
    column ("boxed", the default, or "gsm8k") picks the extraction as the benchmarks do.

    Args:
        thinking_parser: "think", "think-end" or "none" (resolve "auto" against a rendered prompt
            with ``scoring.thinking.parser_for_prompt`` first).
        workers: math-scorer worker processes (started on first use; :meth:`close` stops them).
        timeout_s: wall-clock limit per answer (seconds).
        timer: an optional :class:`~transferlab.train.callbacks.StepTimer` that gets the grading
            time as its "reward" phase.
    """

    __name__ = "math_correct"  # TRL names the reward's metrics after it

    def __init__(self, thinking_parser: ThinkingParser = "think", *, workers: int = 1, timeout_s: float = 5.0, timer: Any = None) -> None:
        if thinking_parser not in THINKING_PARSERS:
            raise ConfigError(f"unknown thinking parser {thinking_parser!r}", f"use one of {', '.join(THINKING_PARSERS)}")
        self.thinking_parser: ThinkingParser = thinking_parser
        self.workers = workers
        self.timeout_s = timeout_s
        self.seconds = 0.0  # wall time spent grading
        self.timer = timer
        self._pool: MathGradingPool | None = None

    def grade(self, texts: Sequence[str], golds: Sequence[Any], styles: Sequence[str] | None = None) -> list[float]:
        """Rewards of raw completion texts against their references, in order."""
        started = time.perf_counter()
        styles = list(styles) if styles is not None else ["boxed"] * len(texts)

        def grade(indices: list[int], answers: list[str]) -> list[Verdict]:
            if self._pool is None:
                self._pool = MathGradingPool(workers=self.workers, timeout_s=self.timeout_s)
            return self._pool.verdicts([MathTask(response=a, gold=golds[i], style=cast(AnswerStyle, styles[i] or "boxed")) for i, a in zip(indices, answers)])

        _, verdicts = split_and_grade(texts, [self.thinking_parser] * len(texts), grade)
        rewards = [v.score for v in verdicts]
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        if self.timer is not None:
            self.timer.add("reward", elapsed)
        return rewards

    def warm_up(self) -> None:
        """Start the scorer's workers and check them on a known answer, before any training step.

        The pool waits for its workers to be ready before it starts an answer's clock, so one
        check suffices; a failure is a clear error rather than a run with zero rewards.
        """
        if self.grade(["\\boxed{2}"], ["2"]) == [1.0]:
            self.seconds = 0.0
            return
        raise TransferlabError(
            f"the math scorer's workers did not answer a trivial check within {self.timeout_s} s",
            "raise scorer_timeout_s (--set scorer_timeout_s=30) or free some CPU",
        )

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], answer: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        if answer is None:
            raise ConfigError("the GRPO dataset has no 'answer' column", "build it with transferlab.train.data (every prompt needs a reference)")
        rewards = self.grade([completion_text(c) for c in completions], list(answer), kwargs.get("answer_style"))
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        if log_metric is not None and rewards:
            log_metric("math/accuracy", sum(rewards) / len(rewards))
        return rewards

    def close(self) -> None:
        """Stop the scorer's worker processes."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:  # picklable without its worker pool
        state = dict(self.__dict__)
        state["_pool"] = None
        return state


def overlong_penalty(max_completion_length: int, cache: int) -> Callable[..., list[float]]:
    """DAPO's soft overlong punishment (eq. 13) as a TRL reward function, from ``trl.rewards``.

    For a rollout of ``L`` tokens: 0 when ``L <= L_max - L_cache``; ``(L_max - L_cache - L) / L_cache``
    (from 0 down to -1) inside the last ``L_cache`` tokens of the budget; -1 beyond ``L_max``.
    """
    if not 0 < cache < max_completion_length:
        raise ConfigError(
            f"the overlong window must be in (0, {max_completion_length}), got {cache}", "set overlong_cache below max_completion_length, or 0 to switch it off"
        )
    from trl.rewards import get_soft_overlong_punishment

    return get_soft_overlong_punishment(max_completion_len=max_completion_length, soft_punish_cache=cache)
