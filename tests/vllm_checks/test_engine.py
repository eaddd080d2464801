"""vLLM's engine through our backend against the Hugging Face backend, both in float32 on the same
weights: greedy completions (text, ids, finish reason) identical, log-likelihoods equal within
1e-3 nats, seeded samples independent of batching and of which other samples are missing."""

from __future__ import annotations

import json

import pytest

from transferlab.backends.base import PromptJob, SampleSlot, sample_seed
from transferlab.backends.hf import HFBackend
from transferlab.benchmarks import parse_benchmarks
from transferlab.pipeline.generate import run_eval
from transferlab.spec import GenerationConfig
from transferlab.store import Store

pytestmark = pytest.mark.slow

LOGPROB_TOLERANCE = 1e-3  # nats per continuation; measured at most 5.7e-5 on SmolLM2 (docs/vllm.md)


def gsm8k_prompts(backend, data, n, config):
    bench = parse_benchmarks("gsm8k")[0]
    return [backend.render(bench.messages(item, config.prompt_style), config) for item in bench.load(data, limit=n)]


def completions(backend, jobs, config):
    return {slot.key: c for group in backend.generate(jobs, config) for slot, c in group}


@pytest.mark.parametrize(("engine", "stop"), [("tiny_engine", ()), ("tiny_engine", ("7",)), ("smollm2_engine", ())])
def test_greedy_completions_are_the_hf_backends(engine, stop, request, shared_data):
    backend = request.getfixturevalue(engine)
    config = GenerationConfig(max_new_tokens=32, stop=stop)
    jobs = [PromptJob(p, (SampleSlot(str(i), 0, 0),)) for i, p in enumerate(gsm8k_prompts(backend, shared_data, 8, config))]
    ours = completions(backend, jobs, config)
    theirs = completions(HFBackend(backend.engine_args["model"], device="cpu", dtype="float32"), jobs, config)
    assert ours == theirs  # text, finish reason, token counts and generated ids
    if stop:
        assert any(c.token_ids is None for c in ours.values()), "the stop string never cut a completion"
    else:
        assert all(c.token_ids for c in ours.values())


def test_seeded_samples_do_not_depend_on_batching_or_on_the_other_samples(tiny_engine, shared_data):
    config = GenerationConfig(samples=4, temperature=0.8, top_p=0.95, max_new_tokens=24, seed=3)
    prompts = gsm8k_prompts(tiny_engine, shared_data, 6, config)
    jobs = [PromptJob(p, tuple(SampleSlot(f"{i}-{k}", k, sample_seed(3, str(i), k)) for k in range(4))) for i, p in enumerate(prompts)]
    first = completions(tiny_engine, jobs, config)
    assert completions(tiny_engine, jobs, config) == first
    part = completions(tiny_engine, [PromptJob(j.prompt, j.slots[1::2]) for j in reversed(jobs)], config)
    assert set(part) < set(first) and all(first[k] == c for k, c in part.items())
    assert len({c.text for c in first.values()}) == len(first), "every sample has its own seed"


def stored_loglikelihoods(path):
    with Store(path, readonly=True) as store:  # texts are stored compressed: read them through the store
        return {c.key: json.loads(c.text) for c in store.completions()}


def test_loglikelihood_benchmark_matches_the_hf_backend(smollm2_engine, smollm2, shared_data, tmp_path):
    config = GenerationConfig()
    stores = {}
    for name, backend in (("vllm", smollm2_engine), ("hf", HFBackend(str(smollm2), device="cpu", dtype="float32", batch_size=8))):
        stores[name] = tmp_path / f"{name}.db"
        with Store(stores[name]) as store:
            run_eval(backend, parse_benchmarks("headqa"), config, store, data_dir=shared_data, limit=12, show_progress=False)
    ours, theirs = stored_loglikelihoods(stores["vllm"]), stored_loglikelihoods(stores["hf"])
    assert set(ours) == set(theirs) and len(ours) == 12  # the same store keys
    diffs = [abs(a - b) for k in ours for a, b in zip(ours[k]["logprob"], theirs[k]["logprob"], strict=True)]
    print(f"headqa: {len(diffs)} continuations, max |vLLM - HF| log-probability {max(diffs):.2e} nats")
    assert max(diffs) <= LOGPROB_TOLERANCE
    assert all(ours[k]["n_tokens"] == theirs[k]["n_tokens"] and ours[k]["is_greedy"] == theirs[k]["is_greedy"] for k in ours)


def test_a_prompt_longer_than_max_model_len_is_one_clear_error_and_the_engine_serves_on(smollm2_engine):
    from transferlab.errors import ConfigError

    config = GenerationConfig(max_new_tokens=4)
    slots = (SampleSlot("a", 0, 0),)
    with pytest.raises(ConfigError, match=r"vLLM refused a request: .*maximum context length is 2048 tokens.*raise --max-model-len"):
        completions(smollm2_engine, [PromptJob("Short.", slots), PromptJob("word " * 3000, (SampleSlot("b", 0, 0),))], config)
    assert completions(smollm2_engine, [PromptJob("Short.", slots)], config)["a"].completion_tokens > 0
