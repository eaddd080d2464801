"""What both trainers share: loading the base model, the output folder, resuming, saving.

The output folder is a plain Hugging Face checkpoint once training ends (``config.json``, weights,
tokenizer), loadable by ``transferlab eval --model OUT`` and the drift analyses. While training, it
holds TRL's resumable ``checkpoint-N`` folders, ``train_log.jsonl`` and ``transferlab_train.json``
(the preset and inputs); a run started again on the same folder resumes from the last checkpoint,
and refuses to when the settings differ.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.errors import ConfigError, ModelError, TransferlabError

RECORD_NAME = "transferlab_train.json"
REPORTERS = {"tensorboard": "tensorboard", "wandb": "wandb"}


@dataclass(frozen=True)
class TrainResult:
    """Where a finished run left its model, from which checkpoint it resumed, how many steps it
    ran, and over how many processes (as accelerate saw them)."""

    out_dir: Path
    global_step: int
    resumed_from: str | None
    log_path: Path
    processes: int = 1


def world_size() -> int:
    """Processes in this run (``WORLD_SIZE`` as set by ``accelerate launch`` or torchrun; else 1)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def is_main_process() -> bool:
    """True on rank 0 (or when not distributed)."""
    return int(os.environ.get("RANK", "0")) == 0


def checkpointing_args(config_class: type, enabled: bool) -> dict[str, Any]:
    """The keyword that turns activation (gradient) checkpointing on or off in ``config_class``.

    transformers renamed ``gradient_checkpointing`` to ``activation_checkpointing`` during 5.x
    (5.17 knows only the old name; 5.24 keeps it as a deprecated alias): the new name where the
    training arguments have it, else the old one.
    """
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_class)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": enabled}


def report_to(names: list[str] | None) -> list[str]:
    """``--report-to`` values checked against what is installed ("none" when empty)."""
    names = [n for n in (names or []) if n and n != "none"]
    for name in names:
        if name not in REPORTERS:
            raise ConfigError(f"unknown --report-to {name!r}", "use tensorboard or wandb")
        if importlib.util.find_spec(REPORTERS[name]) is None:
            raise TransferlabError(f"--report-to {name} needs the package {name!r}, which is not installed", f"pip install {name}")
    return names or ["none"]


def load_base(base: str, *, bf16: bool) -> tuple[Any, Any]:
    """The base model (bfloat16 or float32) and its tokenizer; a clear :class:`ModelError` if unloadable."""
    import torch
    from transformers import AutoModelForCausalLM

    from transferlab.models import load_tokenizer, resolve_model

    _, folder = resolve_model(base)
    source = str(folder) if folder is not None else base
    try:
        tokenizer = load_tokenizer(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16 if bf16 else torch.float32)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"could not load the base model {base!r}: {first}", "check --base: a Hugging Face checkpoint folder or hub id") from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"the base model {base!r} has no chat template", "give the tokenizer a chat template (the training data are chat messages)")
    return model, tokenizer


def prepare_out(out_dir: Path, settings: dict[str, Any]) -> str | None:
    """Create ``out_dir``; return the checkpoint to resume from (None for a fresh run).

    A folder that already holds checkpoints of a run with other settings is a :class:`ConfigError`.
    """
    from transformers.trainer_utils import get_last_checkpoint

    out_dir = Path(out_dir)
    record = out_dir / RECORD_NAME
    last = get_last_checkpoint(str(out_dir)) if out_dir.is_dir() else None
    if last is not None and record.is_file():
        before = json.loads(record.read_text())
        if before != json.loads(json.dumps(settings, default=str)):
            changed = sorted(k for k in set(before) | set(settings) if before.get(k) != json.loads(json.dumps(settings.get(k), default=str)))
            raise ConfigError(
                f"{out_dir} holds checkpoints of a run with other settings ({', '.join(changed)})", "resume with the same options, or choose a new --out"
            )
    if is_main_process():
        out_dir.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(settings, indent=2, sort_keys=True, default=str))
    return last


def save_final(trainer: Any, tokenizer: Any, out_dir: Path) -> None:
    """Write the trained model and tokenizer as a plain Hugging Face folder (every rank must call)."""
    trainer.save_model(str(out_dir))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(str(out_dir))


def plain_callbacks(trainer: Any) -> None:
    """Drop transformers' own console printer: :class:`~transferlab.train.callbacks.StepLogger` prints."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
