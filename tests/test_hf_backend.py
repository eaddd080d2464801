"""The transformers backend on a tiny real Qwen2 model built from a config."""

import pytest
import torch

from transferlab.backends.base import PromptJob, SampleSlot
from transferlab.backends.hf import HFBackend
from transferlab.errors import ModelError
from transferlab.models import resolve_model
from transferlab.spec import GenerationConfig

QUESTIONS = [
    "What is 2 + 3?",
    "How many apples are there in total if each of 7 boxes holds 4?",
    "Find x.",
    "Sum 1 to 10, step by step please, and explain each step carefully.",
]


@pytest.fixture(scope="module")
def backend(tiny_model):
    return HFBackend(str(tiny_model), batch_size=4)


def jobs_for(backend, config, k=1, seed_base=0):
    prompts = [backend.render([{"role": "user", "content": q}], config) for q in QUESTIONS]
    return [PromptJob(p, tuple(SampleSlot(f"{i}-{s}", s, seed_base + 100 * i + s) for s in range(k))) for i, p in enumerate(prompts)]


def run(backend, jobs, config):
    return {slot.key: c for group in backend.generate(jobs, config) for slot, c in group}


def test_greedy_matches_transformers_generate(backend):
    config = GenerationConfig(max_new_tokens=24)
    out = run(backend, jobs_for(backend, config), config)
    tok = backend.tokenizer
    for i, job in enumerate(jobs_for(backend, config)):
        ids = tok(job.prompt, add_special_tokens=False, return_tensors="pt")
        ref = backend.hf_model.generate(**ids, max_new_tokens=24, do_sample=False, pad_token_id=backend.pad_id)
        new = ref[0, ids.input_ids.shape[1] :].tolist()
        eos = [j for j, t in enumerate(new) if t in backend.eos_ids]
        new = new[: eos[0]] if eos else new
        c = out[f"{i}-0"]
        assert c.text == tok.decode(new, skip_special_tokens=True)
        assert c.completion_tokens == len(new) and c.prompt_tokens == ids.input_ids.shape[1]
        assert c.finish_reason == ("stop" if eos else "length")
        assert c.token_ids == tuple(new)  # the generated ids themselves, end of sequence excluded


SEEDED = GenerationConfig(samples=3, temperature=1.0, top_p=0.95, max_new_tokens=16)


def check_seeded_samples(backend) -> dict:
    """Seeded samples do not depend on the batch, differ between the k samples of a prompt and
    between seeds; returns the 12 samples (also run on CUDA by test_gpu.py)."""
    jobs = jobs_for(backend, SEEDED, k=3)
    together = run(backend, jobs, SEEDED)
    size, backend.batch_size = backend.batch_size, 2
    try:
        apart = run(backend, jobs[1:3], SEEDED)
    finally:
        backend.batch_size = size
    assert len(apart) == 6 and all(together[k].text == v.text for k, v in apart.items())
    # the k samples of one prompt share a prefill but not their randomness
    assert len({together[f"0-{s}"].text for s in range(3)}) == 3
    # another seed gives other samples
    other = run(backend, jobs_for(backend, SEEDED, k=3, seed_base=7), SEEDED)
    assert sum(other[k].text != together[k].text for k in together) >= len(together) - 1
    return together


def test_seeded_samples_do_not_depend_on_batching(backend):
    check_seeded_samples(backend)


def test_length_and_stop_strings(backend):
    config = GenerationConfig(max_new_tokens=5)
    out = run(backend, jobs_for(backend, config), config)
    assert all(c.finish_reason == "length" and c.completion_tokens == 5 for c in out.values())
    full = run(backend, jobs_for(backend, GenerationConfig(max_new_tokens=30)), GenerationConfig(max_new_tokens=30))
    key, text = next((k, c.text) for k, c in full.items() if len(c.text.strip()) > 8)
    start = len(text) - len(text.lstrip()) + 3
    stop = text[start : start + 2]
    config = GenerationConfig(max_new_tokens=30, stop=(stop,))
    stopped = run(backend, jobs_for(backend, config), config)[key]
    assert stopped.finish_reason == "stop" and stopped.text == text[: text.find(stop)]
    assert stopped.token_ids is None and full[key].token_ids is not None  # a cut text has no ids of its own


def test_loglikelihood_matches_a_manual_forward(backend):
    context, continuation = "What is 2 + 3?", " the answer is 5"
    (result,) = backend.loglikelihood([(context, continuation)])
    tok = backend.tokenizer
    whole = tok(context + continuation, add_special_tokens=False).input_ids
    n = len(whole) - len(tok(context, add_special_tokens=False).input_ids)
    with torch.no_grad():
        logits = backend.hf_model(torch.tensor([whole])).logits[0].log_softmax(-1)
    manual = sum(logits[t - 1, whole[t]].item() for t in range(len(whole) - n, len(whole)))
    assert result.n_tokens == n and result.logprob == pytest.approx(manual, abs=1e-4)
    # batching with other lengths does not change it
    results = backend.loglikelihood([("a", " b"), (context, continuation), ("a much longer context about apples", " x")])
    assert results[1].logprob == pytest.approx(manual, abs=1e-4)


def test_model_resolution_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path))
    assert resolve_model("Qwen/Qwen3-8B") == ("Qwen/Qwen3-8B", None)


def test_identity_is_a_weights_fingerprint(backend, tiny_model):
    assert backend.model.fingerprint and backend.model.key.startswith("tiny-qwen2@")


def test_continuous_batching_matches_fixed_batches(tiny_model):
    """Refilling finished rows (3 samples x 4 prompts through 5 rows: jobs split across refills,
    rows of different lengths side by side) gives the same completions as fixed, shrinking batches,
    with SDPA and with eager attention (additive mask)."""
    from collections import Counter

    from transferlab.backends.ragged import supports_ragged

    backend = HFBackend(str(tiny_model), batch_size=5)
    assert backend.continuous and supports_ragged(backend.hf_model)
    # A stop character common in this random model's outputs makes the rows end at different steps.
    probe = run(
        backend,
        jobs_for(backend, GenerationConfig(samples=3, temperature=1.0, max_new_tokens=20), k=3),
        GenerationConfig(samples=3, temperature=1.0, max_new_tokens=20),
    )
    stop = Counter("".join(c.text[2:] for c in probe.values())).most_common(1)[0][0]
    for config in (GenerationConfig(samples=3, max_new_tokens=20, stop=(stop,)), GenerationConfig(samples=3, temperature=1.0, max_new_tokens=20, stop=(stop,))):
        jobs = jobs_for(backend, config, k=3)
        backend.continuous = False
        fixed = run(backend, jobs, config)
        backend.continuous = True
        ragged = run(backend, jobs, config)
        assert len(ragged) == 12
        if config.temperature:
            assert len({c.completion_tokens for c in ragged.values()}) >= 3  # rows really ended apart
        assert {k: (c.text, c.finish_reason, c.completion_tokens, c.prompt_tokens) for k, c in ragged.items()} == {
            k: (c.text, c.finish_reason, c.completion_tokens, c.prompt_tokens) for k, c in fixed.items()
        }
    backend.hf_model.set_attn_implementation("eager")
    eager = run(backend, jobs, config)
    assert {k: c.text for k, c in eager.items()} == {k: c.text for k, c in ragged.items()}


def test_sliding_window_models_use_the_fixed_batch_loop(tiny_model):
    from transferlab.backends.ragged import supports_ragged

    backend = HFBackend(str(tiny_model), batch_size=2)
    backend.hf_model.config.use_sliding_window, backend.hf_model.config.sliding_window = True, 8
    assert not supports_ragged(backend.hf_model)
