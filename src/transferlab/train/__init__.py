"""Math-only fine-tuning two ways, TRL underneath: rejection-sampled SFT and GRPO (DAPO recipe).

- :mod:`~transferlab.train.presets`: every hyperparameter, ``tiny`` (CPU) and ``paper`` (GPUs).
- :mod:`~transferlab.train.data`: math prompt sets with reference answers; SFT files.
- :mod:`~transferlab.train.distill`: teacher sampling into the store, rejection by the math scorer.
- :mod:`~transferlab.train.sft` / :mod:`~transferlab.train.grpo`: the trainers.
- :mod:`~transferlab.train.rewards`: the GRPO reward (the evaluation's math scorer) and DAPO's
  soft overlong penalty.
- :mod:`~transferlab.train.callbacks`: per-step JSONL log and console progress.

Modules import TRL lazily: ``import transferlab.train`` is cheap.
"""

__all__: list[str] = []
