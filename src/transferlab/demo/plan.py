"""What a demo run does and where it writes: the budgets (full and quick), the output folders,
the training presets, and the state a run carries through its phases (:class:`DemoRun`)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.demo.progress import PhaseDisplay, Probe
from transferlab.errors import ConfigError
from transferlab.models import model_fingerprint
from transferlab.train.presets import GRPOPreset, SFTPreset, get_preset, to_dict

__all__ = ["FULL", "QUICK", "DemoBudget", "DemoPaths", "DemoRun", "check_folder", "presets", "settings"]


@dataclass(frozen=True)
class DemoBudget:
    """How much of everything a demo run does.

    Attributes:
        name: "full" or "quick".
        train_items: train items per math family (SFT traces and GRPO prompts).
        eval_items: held-out items per family evaluated (the study's ``limit``).
        drift_items: items per family in each drift analysis.
        max_new_tokens: the evaluation's token budget per answer.
        sft: overrides of the ``tiny`` SFT preset (KEY=VALUE strings, as ``--set``).
        grpo: overrides of the ``tiny`` GRPO preset.
        n_resamples: bootstrap resamples for every CI.
        batch_size: rows decoded together in evaluation and drift.
        expected_s: expected wall time of each phase on 2 CPU cores (seconds; the progress ETA).
    """

    name: str
    train_items: int
    eval_items: int
    drift_items: int
    max_new_tokens: int
    sft: tuple[tuple[str, str], ...]
    grpo: tuple[tuple[str, str], ...]
    n_resamples: int
    batch_size: int = 64
    expected_s: dict[str, float] = field(default_factory=dict)


# How the overrides were chosen (on math only, with the shipped base; see the issue-#8 report):
# SFT lr 3e-3 (tiny) garbled the traces, 5e-4 and 1e-3 learned the format equally, 1e-3 with a
# cosine schedule reached the lowest loss on the math traces. GRPO (60 steps, greedy math on 200
# test items per family): lr 3e-5 kept math flat (45% -> 44%), 1e-4 raised it to 64%, because
# the policy learns to open its answers with worked steps, which the base already writes in a
# quarter of its samples and gets right more often than its direct answers. Token budgets follow
# the world: teacher traces are at most 37 tokens.
FULL = DemoBudget(
    name="full",
    train_items=1000,
    eval_items=200,
    drift_items=100,
    max_new_tokens=48,
    n_resamples=2000,
    sft=(
        ("learning_rate", "1e-3"),
        ("lr_scheduler", "cosine"),
        ("warmup_ratio", "0.05"),
        ("max_steps", "300"),
        ("global_batch_size", "16"),
        ("per_device_batch_size", "16"),
        ("save_steps", "100"),
    ),
    grpo=(
        ("learning_rate", "1e-4"),
        ("prompts_per_step", "8"),
        ("per_device_batch_size", "64"),
        ("max_steps", "60"),
        ("max_completion_length", "48"),
        ("overlong_cache", "8"),
        ("save_steps", "20"),
    ),
    expected_s={"data": 4, "sft": 110, "grpo": 130, "eval": 70, "ti": 2, "drift": 55, "report": 3},
)
QUICK = DemoBudget(
    name="quick",
    train_items=20,
    eval_items=20,
    drift_items=8,
    max_new_tokens=48,
    n_resamples=200,
    sft=(
        ("learning_rate", "1e-3"),
        ("lr_scheduler", "cosine"),
        ("warmup_ratio", "0.05"),
        ("max_steps", "6"),
        ("global_batch_size", "8"),
        ("per_device_batch_size", "8"),
        ("save_steps", "3"),
    ),
    grpo=(
        ("learning_rate", "1e-4"),
        ("prompts_per_step", "4"),
        ("per_device_batch_size", "32"),
        ("max_steps", "4"),
        ("max_completion_length", "48"),
        ("overlong_cache", "8"),
        ("save_steps", "2"),
    ),
    expected_s={"data": 3, "sft": 10, "grpo": 7, "eval": 11, "ti": 1, "drift": 18, "report": 2},
)


@dataclass(frozen=True)
class DemoPaths:
    """Where every phase writes, under ``out``."""

    out: Path

    @property
    def sft_data(self) -> Path:
        return self.out / "data" / "sft.jsonl"

    @property
    def base(self) -> Path:
        return self.out / "models" / "base"

    @property
    def sft(self) -> Path:
        return self.out / "models" / "sft"

    @property
    def grpo(self) -> Path:
        return self.out / "models" / "grpo"

    @property
    def store(self) -> Path:
        return self.out / "demo.db"

    @property
    def spec(self) -> Path:
        return self.out / "study.yaml"

    @property
    def ti(self) -> Path:
        return self.out / "ti.json"

    @property
    def drift(self) -> Path:
        return self.out / "drift"

    @property
    def report(self) -> Path:
        return self.out / "report"

    def phase(self, name: str) -> Path:
        return self.out / "phases" / f"{name}.json"


def presets(budget: DemoBudget, seed: int) -> tuple[SFTPreset, GRPOPreset]:
    """The SFT and GRPO presets of a run: ``tiny`` plus the budget's overrides and the seed."""
    sft = get_preset("sft", "tiny", {**dict(budget.sft), "seed": str(seed)})
    grpo = get_preset("grpo", "tiny", {**dict(budget.grpo), "seed": str(seed)})
    return sft, grpo


def settings(budget: DemoBudget, seed: int, base: Path) -> dict[str, Any]:
    """Everything that decides a run's outputs (the base by its weights' fingerprint); a folder
    holds one run's settings."""
    sft, grpo = presets(budget, seed)
    plain = {k: v for k, v in dataclasses.asdict(budget).items() if k != "expected_s"}
    data = {"budget": plain, "seed": seed, "base": model_fingerprint(base), "sft_preset": to_dict(sft), "grpo_preset": to_dict(grpo)}
    return json.loads(json.dumps(data))


def check_folder(paths: DemoPaths, wanted: dict[str, Any]) -> None:
    record = paths.out / "demo.json"
    if record.is_file():
        before = json.loads(record.read_text(encoding="utf-8"))
        if before != wanted:
            changed = sorted(k for k in set(before) | set(wanted) if before.get(k) != wanted.get(k))
            raise ConfigError(
                f"{paths.out} holds a demo run with other settings ({', '.join(changed)})", "rerun with the same options, or choose another --out"
            )
    (paths.out / "phases").mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted, indent=2, sort_keys=True), encoding="utf-8")


@dataclass
class DemoRun:
    """One demo run in progress: its budget, seed, folders and display."""

    budget: DemoBudget
    seed: int
    paths: DemoPaths
    base: Path
    display: PhaseDisplay
    info: dict[str, Any] = field(default_factory=dict)

    def phase(self, name: str, total: float, unit: str, work: Callable[[], dict[str, Any] | None], probe: Probe | None = None) -> None:
        """Run one phase unless an earlier run finished it; record its time and outputs."""
        marker = self.paths.phase(name)
        if marker.is_file():
            self.info[name] = json.loads(marker.read_text(encoding="utf-8")).get("info", {})
            self.display.finish(name, 0.0, reused=True)
            return
        self.display.start(name, total, unit, probe)
        started = time.perf_counter()
        self.info[name] = work() or {}
        seconds = time.perf_counter() - started
        marker.write_text(json.dumps({"phase": name, "seconds": seconds, "info": self.info[name]}, indent=2, default=str), encoding="utf-8")
        self.display.finish(name, seconds)
