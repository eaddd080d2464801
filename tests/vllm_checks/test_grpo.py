"""TRL GRPO with vLLM generating the rollouts, colocated in the training process, on the tiny preset:
the task of tests/test_train_grpo.py (questions whose reference is "17"), learnt from vLLM's samples,
so the policy's weights really reach the engine every step."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from transferlab.train.callbacks import read_log
from transferlab.train.data import load_prompts
from transferlab.train.presets import TINY_GRPO

pytestmark = pytest.mark.slow

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


def test_grpo_with_colocated_vllm_raises_the_reward_and_saves_a_loadable_model(tiny32, tmp_path, monkeypatch):
    from transferlab.backends.hf import HFBackend
    from transferlab.train.grpo import train_grpo

    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; else vLLM reserves vllm_gpu_memory_utilization of the RAM
    prompts = tmp_path / "learn.jsonl"
    prompts.write_text("".join(json.dumps({"problem": q, "answer": "17", "answer_style": "gsm8k"}) + "\n" for q in QUESTIONS))
    out = tmp_path / "grpo"
    preset = dataclasses.replace(TINY_GRPO, use_vllm=True, vllm_mode="colocate")
    result = train_grpo(str(tiny32), load_prompts(str(prompts)), preset, out, show_progress=False)
    assert result.global_step == preset.max_steps == 16

    steps = [r for r in read_log(result.log_path) if "event" not in r]
    accuracy = [r["accuracy"] for r in steps]
    print(f"GRPO with vLLM rollouts, accuracy per step: {[round(a, 2) for a in accuracy]}")
    first, last = sum(accuracy[:4]) / 4, sum(accuracy[-4:]) / 4
    assert last > first + 0.25, accuracy
    assert all(r["generate_s"] > 0 and r["update_s"] > 0 for r in steps)

    base, tuned = load_file(str(tiny32 / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert any(not torch.equal(base[k], tuned[k]) for k in base)
    HFBackend(str(out), device="cpu")  # loads as a plain Hugging Face folder
