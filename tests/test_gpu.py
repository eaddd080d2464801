"""The CUDA paths, checked against the CPU: generation, scoring, the drift analyses, eval end to end.

Every test here needs a CUDA GPU and is skipped, with the reason, where there is none (CI). On a
GPU machine: ``pytest -m gpu``, or ``perf/gpu_check.sh``, which also runs the GPU benchmarks.
The model is the tiny Qwen2 built from a config, in float32, so CUDA and CPU compute the same
numbers up to rounding (no TF32: PyTorch's default matmul precision is "highest").
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from test_hf_backend import SEEDED, check_seeded_samples, jobs_for, run
from transferlab.spec import GenerationConfig

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
]


@pytest.fixture(scope="module")
def backends(tiny_model):
    from transferlab.backends.hf import HFBackend

    cuda = HFBackend(str(tiny_model), device="cuda", dtype="float32", batch_size=4)
    cpu = HFBackend(str(tiny_model), device="cpu", dtype="float32", batch_size=4)
    assert next(cuda.hf_model.parameters()).device.type == "cuda"
    return cuda, cpu


def test_cuda_greedy_decoding_matches_generate_in_every_mode(backends):
    """Continuous batching with prompt-lookup speculation, without it, and fixed batches all give
    transformers' own ``generate`` tokens on the GPU."""
    cuda, _ = backends
    config = GenerationConfig(max_new_tokens=32)
    jobs = jobs_for(cuda, config)
    tok = cuda.tokenizer
    reference = {}
    for i, job in enumerate(jobs):
        ids = tok(job.prompt, add_special_tokens=False, return_tensors="pt").to("cuda")
        out = cuda.hf_model.generate(**ids, max_new_tokens=32, do_sample=False, pad_token_id=cuda.pad_id)
        new = out[0, ids.input_ids.shape[1] :].tolist()
        eos = [j for j, t in enumerate(new) if t in cuda.eos_ids]
        reference[f"{i}-0"] = tuple(new[: eos[0]] if eos else new)
    assert cuda.continuous and cuda.lookup_tokens > 0
    modes = {"continuous+lookup": {}, "continuous": {"lookup_tokens": 0}, "fixed": {"continuous": False}}
    drafted = {}
    for mode, settings in modes.items():
        saved = {k: getattr(cuda, k) for k in settings}
        for k, v in settings.items():
            setattr(cuda, k, v)
        try:
            got = run(cuda, jobs, config)
            drafted[mode] = cuda.decode_stats.get("drafted", 0)
        finally:
            for k, v in saved.items():
                setattr(cuda, k, v)
        assert {k: c.token_ids for k, c in got.items()} == reference, mode
        assert all(c.text == tok.decode(reference[k], skip_special_tokens=True) for k, c in got.items()), mode
    assert drafted["continuous+lookup"] > 0 and drafted["continuous"] == 0  # the speculative path really ran


def test_cuda_seeded_samples_reproduce_whatever_the_batch(backends):
    cuda, cpu = backends
    together = check_seeded_samples(cuda)
    # The sampler draws its uniforms from (seed, step) on the host, so the GPU picks the CPU's
    # tokens wherever the two devices' probabilities do not straddle a draw (float rounding).
    on_cpu = run(cpu, jobs_for(cpu, SEEDED, k=3), SEEDED)
    same = sum(on_cpu[k].text == c.text for k, c in together.items())
    assert same >= len(together) - 2, f"{same}/{len(together)} samples equal to the CPU's"


def test_cuda_loglikelihoods_match_the_cpu(backends):
    cuda, cpu = backends
    requests = [("What is 2 + 3?", " the answer is 5"), ("a", " b"), ("a much longer context about apples and boxes", " 28 apples")]
    for a, b in zip(cuda.loglikelihood(requests), cpu.loglikelihood(requests)):
        assert a.n_tokens == b.n_tokens and a.logprob == pytest.approx(b.logprob, abs=1e-3) and a.is_greedy == b.is_greedy


def test_cuda_token_drift_matches_the_cpu_and_is_zero_against_itself(backends, tiny_model, tmp_path):
    from test_drift_latent import perturbed_copy
    from test_drift_tokens import greedy_rows
    from transferlab.backends.hf import HFBackend
    from transferlab.drift.token_scoring import score_rows

    cuda, cpu = backends
    tuned_cpu = HFBackend(str(perturbed_copy(tiny_model, tmp_path / "noisy", 0.1, seed=1)), device="cpu", dtype="float32").hf_model
    tuned_cuda = HFBackend(str(tmp_path / "noisy"), device="cuda", dtype="float32").hf_model
    rows = greedy_rows(tuned_cpu, cpu.tokenizer)

    def score(base, tuned, **kw):
        got = dict(score_rows(base, tuned, rows, pad_id=0, **kw))
        return [got[i] for i in range(len(rows))]

    on_cpu, on_cuda = score(cpu.hf_model, tuned_cpu, batch_size=1), score(cuda.hf_model, tuned_cuda)  # auto: 8 rows a pass on a GPU
    for a, b in zip(on_cuda, on_cpu):
        assert a.token_ids.tolist() == b.token_ids.tolist()
        np.testing.assert_allclose(a.logprob_base, b.logprob_base, atol=1e-4)
        np.testing.assert_allclose(a.logprob_tuned, b.logprob_tuned, atol=1e-4)
        np.testing.assert_allclose(a.kl_exact, b.kl_exact, atol=1e-4)
        assert a.rank_tuned.tolist() == [1] * len(a)  # the tuned model's own greedy tokens
        assert np.mean(a.rank_base == b.rank_base) >= 0.95  # ranks may swap only on float near-ties
    itself = score(cuda.hf_model, cuda.hf_model)
    for s in itself:
        assert s.rank_base.tolist() == s.rank_tuned.tolist()
        np.testing.assert_allclose(s.kl_exact, 0.0, atol=1e-6)


def test_cuda_hidden_states_match_the_cpu(backends, shared_data):
    from transferlab.drift.hidden import benchmark_texts, pooled_hidden_states

    cuda, cpu = backends
    texts = benchmark_texts("gsm8k", shared_data, 10)
    for pooling in ("masked", "paper"):
        a = pooled_hidden_states(cuda.hf_model, cuda.tokenizer, texts, pooling=pooling, batch_size=4)
        b = pooled_hidden_states(cpu.hf_model, cpu.tokenizer, texts, pooling=pooling, batch_size=4)
        assert len(a) == len(b) == cuda.hf_model.config.num_hidden_layers + 1
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4)


def test_cuda_default_dtype_is_bfloat16_and_generates(tiny_model):
    from transferlab.backends.hf import HFBackend

    backend = HFBackend(str(tiny_model), batch_size=4)  # device and dtype left to their defaults
    assert backend.device.type == "cuda" and backend.hf_model.dtype == torch.bfloat16
    config = GenerationConfig(samples=2, temperature=0.7, max_new_tokens=12)
    out = run(backend, jobs_for(backend, config, k=2), config)
    assert len(out) == 8 and all(c.completion_tokens > 0 and c.token_ids for c in out.values())
    assert all(c.text == backend.tokenizer.decode(c.token_ids, skip_special_tokens=True) for c in out.values())


@pytest.mark.slow
def test_cuda_eval_store_rerun_and_drift_command(tiny_model, shared_data, tmp_path):
    """``transferlab eval --device cuda`` into a store (a rerun generates nothing), ``export`` and
    ``drift tokens`` on the GPU."""
    from conftest import run_cli

    store = tmp_path / "runs.db"
    argv = [
        "eval",
        "--model",
        str(tiny_model),
        "--benchmarks",
        "gsm8k,math500",
        "--samples",
        "2",
        "--temperature",
        "0.7",
        "--max-new-tokens",
        "24",
        "--seed",
        "0",
        "--store",
        str(store),
        "--limit",
        "5",
        "--data-dir",
        str(shared_data),
        "--device",
        "cuda",
    ]
    proc = run_cli(*argv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "20 completions asked, 0 already stored, 20 generated" in proc.stderr
    out = run_cli("export", "--store", str(store), "--out", str(tmp_path / "c.jsonl"))
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(lines) == 20 and {x["benchmark"] for x in lines} == {"gsm8k", "math500"}
    again = run_cli(*argv)
    assert again.returncode == 0 and "20 completions asked, 20 already stored, 0 generated" in again.stderr, again.stderr[-2000:]
    drift = run_cli(
        "drift",
        "tokens",
        "--base",
        str(tiny_model),
        "--tuned",
        str(tiny_model),
        "--store",
        str(tmp_path / "d.db"),
        "--benchmarks",
        "gsm8k",
        "--n",
        "4",
        "--out",
        str(tmp_path / "drift"),
        "--data-dir",
        str(shared_data),
        "--max-new-tokens",
        "16",
        "--device",
        "cuda",
        "--quiet",
    )
    assert drift.returncode == 0, drift.stderr[-2000:]
    data = json.loads((tmp_path / "drift" / "tokens__tiny-qwen2-vs-tiny-qwen2__gsm8k.json").read_text())
    assert data["settings"]["answers_with_generated_ids"] == 4
    assert data["result"]["urial_shares"]["unshifted"] == 1.0 and data["result"]["exact_kl"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow
def test_cuda_bf16_training_with_checkpointing(tiny_model, shared_data, tmp_path):
    """SFT and GRPO as the paper presets train on GPUs: bfloat16 and activation checkpointing on."""
    from dataclasses import replace

    from safetensors.torch import load_file

    from test_train_grpo import learnable_prompts
    from test_train_sft import sft_file
    from transferlab.backends.hf import HFBackend
    from transferlab.train.callbacks import read_log
    from transferlab.train.grpo import train_grpo
    from transferlab.train.presets import TINY_GRPO, TINY_SFT
    from transferlab.train.sft import train_sft

    base = load_file(str(tiny_model / "model.safetensors"))
    sft = train_sft(
        str(tiny_model),
        sft_file(shared_data, tmp_path / "sft.jsonl"),
        replace(TINY_SFT, bf16=True, gradient_checkpointing=True),
        tmp_path / "sft",
        show_progress=False,
    )
    grpo = train_grpo(
        str(tiny_model),
        learnable_prompts(tmp_path / "learn.jsonl"),
        replace(TINY_GRPO, bf16=True, gradient_checkpointing=True),
        tmp_path / "grpo",
        show_progress=False,
    )
    for result, steps in ((sft, TINY_SFT.max_steps), (grpo, TINY_GRPO.max_steps)):
        logged = [r for r in read_log(result.log_path) if "event" not in r]
        assert result.global_step == steps and [r["step"] for r in logged] == list(range(1, steps + 1))
        assert all(np.isfinite(r["loss"]) for r in logged)
        tuned = load_file(str(result.out_dir / "model.safetensors"))
        assert any(not torch.equal(base[k].float(), tuned[k].float()) for k in base)
        backend = HFBackend(str(result.out_dir), device="cuda", dtype="float32")
        config = GenerationConfig(max_new_tokens=4)
        assert run(backend, jobs_for(backend, config)[:1], config)["0-0"].completion_tokens >= 1
    losses = [r["loss"] for r in read_log(sft.log_path) if "event" not in r]
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2, losses  # bfloat16 SFT still learns the task
