"""The vLLM backend: its pure parts everywhere, the real engine where a GPU and vLLM are at hand."""

from __future__ import annotations

import importlib.util
import math

import pytest

from transferlab.backends.base import PromptJob, SampleSlot
from transferlab.backends.vllm import completion_from_record, loglikelihood_from_record, sampling_kwargs
from transferlab.errors import TransferlabError
from transferlab.spec import GenerationConfig

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def gpu_skip_reason() -> str | None:
    if not HAS_VLLM:
        return "vLLM is not installed (pip install 'transferlab[vllm]')"
    import torch

    return None if torch.cuda.is_available() else "no CUDA GPU on this machine"


def test_each_sample_slot_gets_its_own_seed_and_greedy_none():
    sampled = GenerationConfig(temperature=0.7, top_p=0.9, max_new_tokens=64, stop=("</answer>",), extra=(("top_k", 20),))
    assert sampling_kwargs(sampled, 123) == {"n": 1, "max_tokens": 64, "temperature": 0.7, "skip_special_tokens": True, "top_p": 0.9, "seed": 123, "stop": ["</answer>"], "top_k": 20}
    assert "seed" not in sampling_kwargs(GenerationConfig(max_new_tokens=8), 123)


def test_records_become_completions_and_loglikelihoods():
    record = {"text": "42", "finish_reason": "length", "prompt_tokens": 9, "completion_tokens": 64}
    c = completion_from_record(record)
    assert (c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens) == ("42", "length", 9, 64)
    assert completion_from_record({**record, "finish_reason": "stop"}).finish_reason == "stop"
    # prompt positions 1..4: (logprob, rank) of the realised token; the continuation is the last two.
    scored = loglikelihood_from_record({"prompt_logprobs": [(-3.0, 7), (-1.0, 2), (-0.5, 1), (-0.25, 1)]}, 2)
    assert (scored.logprob, scored.is_greedy, scored.n_tokens) == (-0.75, True, 2)
    assert loglikelihood_from_record({"prompt_logprobs": [(-3.0, 7), (-1.0, 2), (-0.5, 1)]}, 2).is_greedy is False


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed: the missing-extra message cannot be seen")
def test_missing_vllm_says_how_to_install_it():
    from transferlab.backends.vllm import VLLMBackend

    with pytest.raises(TransferlabError, match=r"pip install 'transferlab\[vllm\]'"):
        VLLMBackend("Qwen/Qwen3-14B", tensor_parallel=4)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(gpu_skip_reason() is not None, reason=str(gpu_skip_reason()))
def test_vllm_generates_reproducible_seeded_samples_and_matches_hf_loglikelihoods(smollm2):
    from transferlab.backends.hf import HFBackend
    from transferlab.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(smollm2), dtype="float32", gpu_memory_utilization=0.3, max_model_len=1024)
    config = GenerationConfig(samples=3, temperature=0.8, max_new_tokens=24, seed=1)
    prompt = backend.render([{"role": "user", "content": "Name a colour."}], config)
    job = PromptJob(prompt, tuple(SampleSlot(f"s{i}", i, 100 + i) for i in range(3)))
    first = {slot.key: c for group in backend.generate([job], config) for slot, c in group}
    again = {slot.key: c for group in backend.generate([PromptJob(prompt, job.slots[1:])], config) for slot, c in group}
    assert set(first) == {"s0", "s1", "s2"} and all(c.completion_tokens > 0 and c.finish_reason in ("stop", "length") for c in first.values())
    assert {k: first[k].text for k in again} == {k: c.text for k, c in again.items()}, "a slot's sample does not depend on the others"
    requests = [("The capital of France is", " Paris"), ("The capital of France is", " banana")]
    hf = HFBackend(str(smollm2), device="cuda", dtype="float32").loglikelihood(requests)
    ours = backend.loglikelihood(requests)
    assert [r.n_tokens for r in ours] == [r.n_tokens for r in hf]
    assert all(math.isclose(a.logprob, b.logprob, abs_tol=0.05) for a, b in zip(ours, hf))
    ids = backend.tokenizer("The capital of France is Paris")["input_ids"]
    logprobs, ranks = backend.prompt_logprobs([ids])[0]
    assert len(logprobs) == len(ids) - 1 and all(r >= 1 for r in ranks)
