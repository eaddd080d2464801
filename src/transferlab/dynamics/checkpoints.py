"""The checkpoints a training kept: ``OUT/checkpoint-STEP`` folders (transformers' naming), each a
loadable Hugging Face model with its tokenizer (``transferlab train ... --save-every N``).

A training folder also holds ``transferlab_train.json`` (what ``transferlab train`` was asked: the
kind, the base); it names the run's training method and its base unless told otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transferlab.errors import ConfigError
from transferlab.train.common import RECORD_NAME

TRAINING_OF_KIND = {"sft": "SFT", "grpo": "RL"}
"""The study's training method of each ``transferlab train`` kind."""


@dataclass(frozen=True)
class Checkpoint:
    """One kept checkpoint: its optimizer step and its folder (for the last one, the training's
    folder when that holds the same weights: the finished model)."""

    step: int
    path: Path


@dataclass(frozen=True)
class TrainingRun:
    """A training's checkpoints in step order, its label (the folder's name unless given), its
    training method (``SFT``, ``RL`` or ``other``) and its base (from the run's record; None if unknown)."""

    label: str
    folder: Path
    training: str
    base: str | None
    checkpoints: tuple[Checkpoint, ...]

    @property
    def final_step(self) -> int:
        """The last kept step."""
        return self.checkpoints[-1].step


def _prefix() -> str:
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    return str(PREFIX_CHECKPOINT_DIR)


def find_run(folder: str | Path, label: str | None = None) -> TrainingRun:
    """The checkpoints in a training's output folder; a :class:`ConfigError` when it has none."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--checkpoints {root}: no such folder", "point it at the --out folder of `transferlab train ... --save-every N`")
    pattern = re.compile(rf"^{re.escape(_prefix())}-(\d+)$")
    found = []
    for child in root.iterdir():
        match = pattern.match(child.name)
        if match and child.is_dir() and (child / "config.json").is_file():
            found.append(Checkpoint(int(match.group(1)), child))
    if not found:
        raise ConfigError(f"{root} holds no checkpoint-STEP folder with a model", "train with --save-every N to keep checkpoints")
    record = root / RECORD_NAME
    info = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
    training = TRAINING_OF_KIND.get(str(info.get("kind")), "other")
    base = info.get("base")
    found.sort(key=lambda c: c.step)
    if _same_weights(root, found[-1].path):  # the finished model: its key (and completions) are the run folder's
        found[-1] = Checkpoint(found[-1].step, root)
    return TrainingRun(label or root.resolve().name, root, training, None if base is None else str(base), tuple(found))


def _same_weights(folder: Path, checkpoint: Path) -> bool:
    """Whether ``folder`` holds a model with the weights of ``checkpoint`` (a model's store key is
    its folder's name and weights, so the finished model and its last checkpoint would otherwise be
    evaluated twice)."""
    from transferlab.models import model_fingerprint

    return (folder / "config.json").is_file() and model_fingerprint(folder) == model_fingerprint(checkpoint)


def find_runs(folders: Sequence[str | Path]) -> list[TrainingRun]:
    """One :class:`TrainingRun` per folder; two runs may not share a label (their folders' names)."""
    runs = [find_run(f) for f in folders]
    labels = [r.label for r in runs]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ConfigError(f"two --checkpoints folders are both called {twice[0]!r}", "give each training its own folder name (it labels the run)")
    return runs


def common_base(runs: Sequence[TrainingRun], base: str | None) -> str:
    """The base every run is compared with: ``base`` when given, else the one base the runs'
    records name (a :class:`ConfigError` when they name none, several, or a folder that is gone)."""
    if base is not None:
        return base
    named = sorted({r.base for r in runs if r.base is not None})
    if len(named) != 1 or len(named) != len({r.base for r in runs}):
        raise ConfigError(f"the runs name {len(named)} different bases ({', '.join(named) or 'none'})", "pass --base MODEL")
    if not Path(named[0]).exists() and named[0].count("/") != 1:
        raise ConfigError(f"the runs' base {named[0]} is not found", "pass --base MODEL")
    return named[0]
