"""The TRL configs built from presets: checkpointing reaches them under either transformers name."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from transferlab.train.common import checkpointing_args
from transferlab.train.presets import TINY_GRPO, TINY_SFT


def test_checkpointing_keyword_follows_the_training_arguments():
    @dataclass
    class Old:  # transformers 5.17 and earlier
        gradient_checkpointing: bool = False

    @dataclass
    class New:  # 5.24: the new name, the old one a deprecated alias
        activation_checkpointing: bool | None = None
        gradient_checkpointing: bool | None = None

    assert checkpointing_args(Old, True) == {"gradient_checkpointing": True}
    assert checkpointing_args(New, True) == {"activation_checkpointing": True}
    assert checkpointing_args(New, False) == {"activation_checkpointing": False}


@pytest.mark.parametrize("on", [True, False])
def test_sft_and_grpo_configs_carry_the_presets_checkpointing(tmp_path, on):
    from transferlab.train.grpo import grpo_config
    from transferlab.train.sft import sft_config

    for config in (
        sft_config(replace(TINY_SFT, gradient_checkpointing=on), tmp_path, processes=1),
        grpo_config(replace(TINY_GRPO, gradient_checkpointing=on), tmp_path, processes=1),
    ):
        assert config.gradient_checkpointing is on  # the field both versions have, set either way
        assert getattr(config, "activation_checkpointing", on) is on
