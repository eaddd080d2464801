"""The vLLM backend: its pure parts here, and the real engine's checks (tests/vllm_checks/) run in one pytest
session inside the vLLM venv (scripts/vllm-venv.sh: vLLM's CPU build), which this session builds in
the background while the other tests run (see tests/vllm_venv.py)."""

from __future__ import annotations

import importlib.util
import subprocess
from types import SimpleNamespace

import pytest

import vllm_venv
from transferlab.backends.vllm import completion_from_record, cpu_binding, engine_arguments, loglikelihood_from_record, output_record, sampling_kwargs
from transferlab.errors import TransferlabError
from transferlab.spec import GenerationConfig

HAS_VLLM = importlib.util.find_spec("vllm") is not None
ENGINE_CHECKS_TIMEOUT_S = 900  # measured about 4 minutes on 2 cores (docs/vllm.md)


def test_each_sample_slot_gets_its_own_seed_and_greedy_none():
    sampled = GenerationConfig(temperature=0.7, top_p=0.9, max_new_tokens=64, stop=("</answer>",), extra=(("top_k", 20),))
    assert sampling_kwargs(sampled, 123) == {
        "n": 1,
        "max_tokens": 64,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 123,
        "stop": ["</answer>"],
        "skip_special_tokens": False,
        "top_k": 20,
    }
    greedy = sampling_kwargs(GenerationConfig(max_new_tokens=8), 123)
    assert "seed" not in greedy and greedy["detokenize"] is False  # no stop strings: the ids are decoded here


def test_records_become_completions_and_loglikelihoods(tiny_model):
    from transferlab.models import load_tokenizer

    tok = load_tokenizer(tiny_model)
    ids = tok("the total is 17", add_special_tokens=False)["input_ids"]
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    cut = completion_from_record({"token_ids": ids, "finish_reason": "length", "stop_reason": None, "prompt_tokens": 9}, tok, ())
    assert (cut.text, cut.finish_reason, cut.prompt_tokens, cut.completion_tokens, cut.token_ids) == ("the total is 17", "length", 9, len(ids), tuple(ids))
    ended = completion_from_record({"token_ids": [*ids, eos], "finish_reason": "stop", "stop_reason": None, "prompt_tokens": 9}, tok, ())
    assert (ended.text, ended.completion_tokens, ended.token_ids) == ("the total is 17", len(ids), tuple(ids))  # end-of-sequence dropped
    stopped = completion_from_record({"token_ids": ids, "finish_reason": "stop", "stop_reason": " is", "prompt_tokens": 9}, tok, (" is",))
    assert (stopped.text, stopped.finish_reason, stopped.token_ids) == ("the total", "stop", None)
    with pytest.raises(TransferlabError, match="finish reason 'abort'"):
        completion_from_record({"token_ids": ids, "finish_reason": "abort", "stop_reason": None, "prompt_tokens": 9}, tok, ())
    # prompt positions 1..4: (logprob, rank) of the realised token; the continuation is the last two.
    scored = loglikelihood_from_record({"prompt_logprobs": [(-3.0, 7), (-1.0, 2), (-0.5, 1), (-0.25, 1)]}, 2)
    assert (scored.logprob, scored.is_greedy, scored.n_tokens) == (-0.75, True, 2)
    assert loglikelihood_from_record({"prompt_logprobs": [(-3.0, 7), (-1.0, 2), (-0.5, 1)]}, 2).is_greedy is False


def test_prompt_logprobs_are_selected_by_token_id():
    entry = lambda lp, rank: SimpleNamespace(logprob=lp, rank=rank)  # noqa: E731
    out = SimpleNamespace(
        prompt_token_ids=[7, 8, 9, 4],
        outputs=[SimpleNamespace(token_ids=[5], finish_reason="length", stop_reason=None)],
        prompt_logprobs=[None, {8: entry(-0.1, 1)}, {3: entry(-0.2, 1), 9: entry(-2.5, 4)}, {4: entry(-0.3, 1)}],
    )
    record = output_record(out, want_prompt_logprobs=True)  # the realised 9 is not its position's first entry
    assert record["prompt_logprobs"] == [(-0.1, 1), (-2.5, 4), (-0.3, 1)] and record["prompt_tokens"] == 4


def test_data_parallel_ranks_get_disjoint_cores_and_cpu_engines_run_eagerly(monkeypatch):
    assert cpu_binding([0, 1], 2, 1) == ["0", "1"]
    assert cpu_binding(list(range(8)), 2, 2) == ["0,1|2,3", "4,5|6,7"]
    assert cpu_binding([0], 2, 1) == ["0", "0"]  # more ranks than cores: shared
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    cpu = engine_arguments("m", None, 1, "float32", 2048, True, {})
    assert cpu["enforce_eager"] is True and cpu["enable_chunked_prefill"] is False and cpu["kv_cache_memory_bytes"] == 1 << 30 and cpu["max_model_len"] == 2048
    assert "kv_cache_memory_bytes" not in engine_arguments("m", None, 1, "float32", None, True, {"gpu_memory_utilization": 0.2})
    gpu = engine_arguments("m", None, 4, "auto", None, False, {"enforce_eager": False})
    assert "kv_cache_memory_bytes" not in gpu and "max_model_len" not in gpu and gpu["tensor_parallel_size"] == 4


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed: the missing-extra message cannot be seen")
def test_missing_vllm_says_how_to_install_it():
    from transferlab.backends.vllm import VLLMBackend

    with pytest.raises(TransferlabError, match=r"pip install 'transferlab\[vllm\]'"):
        VLLMBackend("Qwen/Qwen3-14B", tensor_parallel=4)


@pytest.mark.slow
@pytest.mark.timeout(vllm_venv.BUILD_TIMEOUT_S + ENGINE_CHECKS_TIMEOUT_S + 120)  # waits for the venv's build, then runs the checks
@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here: tests/vllm_checks/ runs in this session itself")
def test_vllm_engine_checks_pass_in_the_vllm_venv():
    """tests/vllm_checks/ in one pytest session of the vLLM venv: greedy and log-likelihoods equal to the HF
    backend's, seeded samples across runs, SIGKILL and resume, data parallel, drift, GRPO."""
    try:
        python = vllm_venv.venv_python()
    except vllm_venv.BuildImpossible as err:
        pytest.skip(f"the vLLM venv cannot be built here: {err}")
    except vllm_venv.EngineBroken as err:
        pytest.fail(f"vLLM installed but cannot serve through transferlab: {err}")
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", f"--timeout={ENGINE_CHECKS_TIMEOUT_S}", "tests/vllm_checks"]
    try:
        proc = subprocess.run(cmd, cwd=vllm_venv.REPO, capture_output=True, text=True, timeout=ENGINE_CHECKS_TIMEOUT_S + 60, env=vllm_venv.checkout_env())
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the vLLM engine checks ran past {ENGINE_CHECKS_TIMEOUT_S + 60} s: {str(err.stdout)[-3000:]}")
    print(proc.stdout[-6000:])
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1] and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-3000:]
