"""The mini-world: twelve generated task families, a tokenizer, a ~1M-parameter Qwen2, a pretrained base.

- :data:`FAMILIES`: ``name -> Family`` (four per group: math, other, non), each also a registered
  benchmark (:mod:`transferlab.benchmarks.world`) scored by an exact verifier.
- :func:`train_items` / :func:`test_items`: the disjoint TRAIN and TEST splits, deterministic for a seed.
- :func:`teacher_trace`: the step-by-step solution of a math item, ``<think>...</think>\\boxed{}``.
- :func:`base_model_path`: the shipped pretrained base (made by ``transferlab world pretrain``).
"""

from __future__ import annotations

from pathlib import Path

from transferlab.errors import ModelError
from transferlab.world.catalog import FAMILIES, MATH_FAMILIES, get_family, test_items, train_items
from transferlab.world.families import Family, Task
from transferlab.world.teacher import teacher_trace

BASE_DIR = Path(__file__).resolve().parent / "base"


def base_model_path() -> Path:
    """The shipped pretrained base folder (config, safetensors, tokenizer with chat template, recipe.json)."""
    if not (BASE_DIR / "config.json").is_file():
        raise ModelError(f"the world base model is missing from {BASE_DIR}", "run: transferlab world pretrain --out " + str(BASE_DIR))
    return BASE_DIR


__all__ = ["FAMILIES", "MATH_FAMILIES", "Family", "Task", "base_model_path", "get_family", "teacher_trace", "test_items", "train_items"]
