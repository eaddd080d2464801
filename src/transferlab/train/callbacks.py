"""Step logging for both trainers: one JSON line per optimizer step, and a console progress bar.

TRL already measures most of what a GRPO step needs (reward mean and spread, the share of groups
with zero spread, clipped shares, completion lengths, entropy, KL); :class:`StepLogger` renames
those to the names below, adds what TRL does not measure (time spent generating vs updating,
SFT tokens/s), and writes every record to ``<out>/train_log.jsonl`` (``raw`` keeps TRL's own
keys). TensorBoard or W&B receive TRL's metrics through ``report_to`` as usual.

GRPO fields: ``reward_mean``, ``reward_std`` (over all rollouts of the step), ``accuracy`` (the
math reward alone), ``zero_spread_share`` (groups whose rewards are all equal), ``clipped_share``
(tokens whose ratio was clipped), ``completion_length_mean`` (tokens), ``truncated_share`` (rollouts
cut by the length limit), ``entropy`` (nats/token), ``kl_to_base`` (k3 estimate, nats/token),
``generate_s`` (rollouts incl. scoring), ``reward_s`` (scoring alone), ``update_s`` (the rest of
the step: forward, backward, optimizer), ``step_s``.
SFT fields: ``loss``, ``tokens_per_s``, ``tokens`` (seen so far), ``mean_token_accuracy``,
``update_s``/``step_s``.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

LOG_NAME = "train_log.jsonl"

GRPO_FIELDS = {
    "reward_mean": "reward",
    "reward_std": "reward_std",
    "accuracy": "rewards/math_correct/mean",
    "zero_spread_share": "frac_reward_zero_std",
    "clipped_share": "clip_ratio/region_mean",
    "clipped_low_share": "clip_ratio/low_mean",
    "clipped_high_share": "clip_ratio/high_mean",
    "completion_length_mean": "completions/mean_length",
    "truncated_share": "completions/clipped_ratio",
    "entropy": "entropy",
    "kl_to_base": "kl",
    "loss": "loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
}
SFT_FIELDS = {
    "loss": "loss",
    "mean_token_accuracy": "mean_token_accuracy",
    "entropy": "entropy",
    "tokens": "num_tokens",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
}


class StepTimer:
    """Seconds spent in named phases, accumulated by the trainer and read by :class:`StepLogger`."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase``."""
        self.totals[phase] = self.totals.get(phase, 0.0) + seconds

    def snapshot(self) -> dict[str, float]:
        """A copy of the running totals."""
        return dict(self.totals)


class StepLogger(TrainerCallback):
    """Writes one JSON line per logged step and drives a rich progress bar (main process only).

    Args:
        path: the JSONL file (appended to, so a resumed run continues it).
        kind: "sft" or "grpo" (which fields to name).
        timer: phase times from the trainer (GRPO: "generate", "reward").
        show_progress: None = a bar when stderr is a terminal, else one line per step.
    """

    def __init__(self, path: Path, kind: str, timer: StepTimer | None = None, show_progress: bool | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.timer = timer or StepTimer()
        self.show_progress = show_progress
        self._stack = ExitStack()
        self._progress: Any = None
        self._task: Any = None
        self._step_start = 0.0
        self._phase_start: dict[str, float] = {}
        self._pending: dict[str, float] = {}
        self._last_tokens: float | None = None

    # -- timing -----------------------------------------------------------------------------
    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._step_start = time.perf_counter()
        self._phase_start = self.timer.snapshot()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step_s = time.perf_counter() - self._step_start
        now = self.timer.snapshot()
        phases = {name: now.get(name, 0.0) - self._phase_start.get(name, 0.0) for name in now}
        self._pending["step_s"] = self._pending.get("step_s", 0.0) + step_s
        for name, seconds in phases.items():
            self._pending[f"{name}_s"] = self._pending.get(f"{name}_s", 0.0) + seconds
        self._pending["update_s"] = self._pending.get("update_s", 0.0) + step_s - phases.get("generate", 0.0)
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    # -- records ----------------------------------------------------------------------------
    def record(self, logs: dict[str, Any], step: int) -> dict[str, Any]:
        """The JSONL record of one logged step (pure apart from the tokens/s bookkeeping)."""
        names = GRPO_FIELDS if self.kind == "grpo" else SFT_FIELDS
        rec: dict[str, Any] = {"step": step, "kind": self.kind, "time": time.time()}
        rec.update({ours: logs.get(theirs) for ours, theirs in names.items()})
        rec.update({k: round(v, 6) for k, v in self._pending.items()})
        if self.kind == "sft" and logs.get("num_tokens") is not None:
            tokens = float(logs["num_tokens"])
            seen = tokens - (self._last_tokens or 0.0)
            self._last_tokens = tokens
            rec["tokens_per_s"] = seen / self._pending["step_s"] if self._pending.get("step_s") else None
        rec["raw"] = logs
        return rec

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from transferlab.progress import progress_bar

        self._progress = self._stack.enter_context(progress_bar("steps", enabled=self.show_progress))
        self._task = self._progress.add_task(f"{self.kind}", total=state.max_steps, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "train_runtime" in logs:  # the end-of-training summary
            rec = {"step": state.global_step, "kind": self.kind, "event": "end", "time": time.time(), "raw": logs}
        else:
            rec = self.record(logs, state.global_step)
            self._pending = {}
            self._console(rec)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec, default=float) + "\n")

    def _console(self, rec: dict[str, Any]) -> None:
        keys = (
            ("reward_mean", "zero_spread_share", "completion_length_mean", "kl_to_base", "generate_s", "update_s")
            if self.kind == "grpo"
            else ("loss", "tokens_per_s", "step_s")
        )
        summary = " ".join(f"{k}={rec[k]:.4g}" for k in keys if isinstance(rec.get(k), (int, float)))
        if self._progress is not None and not self._progress.disable:
            self._progress.update(self._task, description=f"{self.kind} {summary}")
        elif self.show_progress is not False:
            print(f"{self.kind} step {rec['step']}: {summary}", file=sys.stderr, flush=True)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._stack.close()
        self._progress = None


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a ``train_log.jsonl`` file."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
