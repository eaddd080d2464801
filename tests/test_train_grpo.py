"""GRPO with TRL on the tiny model: the math-scorer reward rises on a task the tiny model can learn.

The task: short questions whose reference is "17", graded by the real math scorer with the GSM8K
extraction (boxed, else "#### N", else the last number). "17" is the number the randomly
initialised tiny model most often ends its samples with (about 7% of 12-token samples at
temperature 1), so some rollouts of the first steps are right and group-normalised advantages
have something to push on. The run is seeded.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from transferlab.train.callbacks import read_log
from transferlab.train.data import load_prompts
from transferlab.train.presets import TINY_GRPO

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread: on a shared CPU, OpenMP threads waiting on each other make tiny steps 50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


QUESTIONS = (
    "what is the total?",
    "find the sum of the number",
    "how many eggs?",
    "what is the product?",
    "how many apples?",
    "find the cost",
    "solve the problem",
    "what is the answer?",
)
STEP_FIELDS = (
    "reward_mean",
    "reward_std",
    "accuracy",
    "zero_spread_share",
    "clipped_share",
    "completion_length_mean",
    "truncated_share",
    "entropy",
    "kl_to_base",
    "generate_s",
    "reward_s",
    "update_s",
    "step_s",
    "loss",
)


def learnable_prompts(path):
    path.write_text("".join(json.dumps({"problem": q, "answer": "17", "answer_style": "gsm8k"}) + "\n" for q in QUESTIONS))
    return load_prompts(str(path))


def test_grpo_raises_the_math_reward_and_logs_every_step(tiny_model, tmp_path):
    from transferlab.backends.hf import HFBackend
    from transferlab.train.grpo import train_grpo

    out = tmp_path / "grpo"
    result = train_grpo(str(tiny_model), learnable_prompts(tmp_path / "learn.jsonl"), TINY_GRPO, out, show_progress=False)
    assert result.global_step == TINY_GRPO.max_steps == 16

    steps = [r for r in read_log(result.log_path) if "event" not in r]
    assert [r["step"] for r in steps] == list(range(1, 17))
    for r in steps:
        assert all(isinstance(r[f], (int, float)) for f in STEP_FIELDS), r
        assert 0 <= r["zero_spread_share"] <= 1 and 0 <= r["truncated_share"] <= 1 and 0 <= r["clipped_share"] <= 1
        assert r["generate_s"] > 0 and r["update_s"] > 0 and r["reward_s"] <= r["generate_s"]
    accuracy = [r["accuracy"] for r in steps]
    first, last = sum(accuracy[:4]) / 4, sum(accuracy[-4:]) / 4
    assert last > first + 0.25, accuracy
    assert steps[-1]["kl_to_base"] > steps[0]["kl_to_base"]  # the policy moved away from the base
    # The logged reward is the scorer's accuracy plus the overlong penalty (<= 0).
    assert all(r["reward_mean"] <= r["accuracy"] + 1e-6 for r in steps)

    base, tuned = load_file(str(tiny_model / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert any(not torch.equal(base[k], tuned[k]) for k in base)
    assert (out / "checkpoint-16").is_dir()
    HFBackend(str(out), device="cpu")  # loads as a plain Hugging Face folder
