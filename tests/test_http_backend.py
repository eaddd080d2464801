"""The OpenAI-compatible HTTP backend against a real third-party server (llama-cpp-python's,
serving SmolLM2-135M-Instruct), with faults injected by a proxy and replicas killed mid-run."""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import llama_server
from transferlab.backends.base import PromptJob, SampleSlot
from transferlab.backends.http_pool import BackendError, PoolSettings, backoff_delay, retry_after_seconds
from transferlab.backends.openai_http import OpenAIBackend, chat_prompt, continuation_logprob, parse_completion, sampling_payload
from transferlab.commands import eval as eval_cmd
from transferlab.commands.common import backend_from_args
from transferlab.errors import ConfigError, StoreError, TransferlabError
from transferlab.spec import GenerationConfig
from transferlab.store import Store

SAMPLED = GenerationConfig(samples=2, temperature=0.7, top_p=0.95, max_new_tokens=12, seed=5)


# -- pure parts ----------------------------------------------------------------------------------
def test_chat_prompt_is_canonical_and_keys_every_template_option():
    msgs = [{"role": "user", "content": "What is 2+2?"}]
    plain = chat_prompt(msgs, GenerationConfig())
    assert plain == chat_prompt([{"content": "What is 2+2?", "role": "user"}], GenerationConfig())
    assert json.loads(plain)["messages"] == msgs
    thinking = chat_prompt(msgs, GenerationConfig(enable_thinking=True))
    system = chat_prompt(msgs, GenerationConfig(system_prompt="Be brief."))
    assert len({plain, thinking, system}) == 3
    assert json.loads(thinking)["chat_template_kwargs"] == {"enable_thinking": True}
    assert json.loads(system)["messages"][0] == {"role": "system", "content": "Be brief."}


def test_sampling_payload_sends_the_seed_only_when_sampling():
    assert "seed" not in sampling_payload(GenerationConfig(max_new_tokens=7), 99)
    payload = sampling_payload(GenerationConfig(temperature=0.6, top_p=0.9, stop=("###",), extra=(("top_k", 20),)), 99)
    assert payload == {"max_tokens": 2048, "temperature": 0.6, "n": 1, "top_p": 0.9, "seed": 99, "stop": ["###"], "top_k": 20}


def test_reasoning_fields_are_kept_as_thinking_and_finish_reasons_mapped():
    usage = {"prompt_tokens": 11, "completion_tokens": 7}
    vllm_style = parse_completion({"message": {"content": "4", "reasoning_content": "2+2 is 4"}, "finish_reason": "stop"}, usage, chat=True)
    assert (vllm_style.text, vllm_style.thinking, vllm_style.finish_reason, vllm_style.prompt_tokens, vllm_style.completion_tokens) == (
        "4",
        "2+2 is 4",
        "stop",
        11,
        7,
    )
    newer = parse_completion({"message": {"content": None, "reasoning": "still thinking"}, "finish_reason": "length"}, usage, chat=True)
    assert (newer.text, newer.thinking, newer.finish_reason) == ("", "still thinking", "length")
    plain = parse_completion({"text": "abc", "finish_reason": "eos"}, None, chat=False)
    assert (plain.text, plain.thinking, plain.finish_reason, plain.completion_tokens) == ("abc", None, "stop", 0)


def test_continuation_logprob_sums_the_tokens_past_the_context():
    # "The sky is" + " blue": tokens The|_sky|_is|_blue|<generated>; echo offsets in characters.
    block = {
        "text_offset": [0, 3, 7, 10, 15],
        "token_logprobs": [None, -2.0, -1.0, -0.5, -3.0],
        "top_logprobs": [None, {" sky": -2.0}, {" is": -1.0}, {" red": -0.25, " blue": -0.5}, {"!": -3.0}],
    }
    # The generated token (offset 15) is past the prompt too; callers send max_tokens=1, so drop it:
    block = {k: v[:-1] for k, v in block.items()}
    scored = continuation_logprob(block, len("The sky is"))
    assert (scored.logprob, scored.n_tokens, scored.is_greedy) == (-0.5, 1, False)
    two = continuation_logprob(block, len("The sky"))
    assert (two.logprob, two.n_tokens, two.is_greedy) == (-1.5, 2, False)
    assert continuation_logprob(block, len("The")).is_greedy is False
    assert continuation_logprob({k: v[:3] for k, v in block.items()}, len("The")).is_greedy is True


def test_backoff_is_bounded_exponential_with_jitter_and_honours_retry_after():
    rng = random.Random(1)
    delays = [[backoff_delay(a, 0.5, 8.0, rng) for _ in range(200)] for a in range(6)]
    for attempt, ds in enumerate(delays):
        assert 0 <= min(ds) and max(ds) <= min(8.0, 0.5 * 2**attempt)
    assert max(delays[4]) > 4.0 > max(delays[1])  # it really grows
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") is None and retry_after_seconds(None) is None


def parse_eval(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    eval_cmd.register(parser.add_subparsers())
    return parser.parse_args(["eval", "--benchmarks", "gsm8k", "--store", "x.db", *argv])


def test_cli_options_build_the_openai_backend_and_name_the_fix():
    args = parse_eval(
        "--backend", "openai", "--model", "m", "--endpoint", "http://a:1/v1/", "--endpoint", "http://b:2/v1", "--concurrency", "3", "--api-key", "k"
    )
    backend = backend_from_args(args)
    assert backend.pool.urls == ["http://a:1/v1", "http://b:2/v1"] and backend.pool.settings.concurrency == 3 and backend.pool.settings.api_key == "k"
    assert backend.model.key == "m@unversioned"
    with pytest.raises(ConfigError, match="--endpoint"):
        backend_from_args(parse_eval("--backend", "openai", "--model", "m"))
    with pytest.raises(ConfigError, match="--api completions"):
        backend.render([{"role": "user", "content": "hi"}], GenerationConfig(chat_template=False))
    completions = backend_from_args(parse_eval("--backend", "openai", "--model", "m", "--endpoint", "http://a:1/v1", "--api", "completions"))
    with pytest.raises(ConfigError, match="--tokenizer"):
        completions.render([{"role": "user", "content": "hi"}], GenerationConfig())
    with pytest.raises(ConfigError, match="--api completions"):
        backend.loglikelihood([("a", "b")])


@pytest.mark.timeout(60)
def test_no_endpoint_left_is_one_clear_error():
    backend = OpenAIBackend("m", [f"http://127.0.0.1:{llama_server.free_port()}/v1"], settings=PoolSettings(concurrency=2, backoff_base=0.01))
    job = PromptJob(chat_prompt([{"role": "user", "content": "hi"}], SAMPLED), (SampleSlot("k0", 0, 1), SampleSlot("k1", 1, 2)))
    with pytest.raises(BackendError, match="all 1 endpoint") as err:
        list(backend.generate([job], SAMPLED))
    assert isinstance(err.value, TransferlabError) and "\n" not in str(err.value) and "resume" in str(err.value)


# -- against the real server ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def gguf() -> Path:
    from transferlab.models import smollm2_gguf

    return smollm2_gguf()


@pytest.fixture(scope="session")
def server_python(gguf) -> Path:
    """The server venv (its build has its own deadline, llama_server.BUILD_TIMEOUT_S)."""
    try:
        return llama_server.server_python(gguf)
    except llama_server.BuildImpossible as err:
        pytest.skip(f"llama-cpp-python's server cannot be built here: {err}")
    except llama_server.ServerBroken as err:
        pytest.fail(f"llama-cpp-python's server was built but cannot serve on this machine: {err}", pytrace=False)


@pytest.fixture(scope="session")
def session_server(server_python, gguf):
    shared = llama_server.SessionServer(server_python, gguf)
    yield shared
    shared.close()


@pytest.fixture
def server(session_server) -> str:
    """The shared server's URL, checked before each test: restarted once if it died, then a fast failure."""
    try:
        return session_server.url()
    except llama_server.ServerBroken as err:
        pytest.fail(str(err), pytrace=False)


def jobs_for(n_prompts: int, k: int) -> list[PromptJob]:
    msgs = lambda i: [{"role": "user", "content": f"Count from {i} to {i + 3}."}]  # noqa: E731
    return [PromptJob(chat_prompt(msgs(i), SAMPLED), tuple(SampleSlot(f"p{i}s{s}", s, 1000 * i + s) for s in range(k))) for i in range(n_prompts)]


def store_rows(path: Path) -> dict[str, tuple[str, str, int, int]]:
    if not path.exists():
        return {}
    try:  # texts are stored compressed: read them through the store
        with Store(path, readonly=True) as store:
            return {c.key: (c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens) for c in store.iter_completions()}
    except StoreError:  # not a store yet (its first process is still creating it)
        return {}


def eval_args(store: Path, data: Path, *endpoints: str, limit: int = 4, tokens: int = 12) -> list[str]:
    eps = [a for e in endpoints for a in ("--endpoint", e)]
    return [
        "eval",
        "--backend",
        "openai",
        "--model",
        "smollm2",
        *eps,
        "--benchmarks",
        "gsm8k",
        "--limit",
        str(limit),
        "--samples",
        "2",
        "--temperature",
        "0.7",
        "--max-new-tokens",
        str(tokens),
        "--seed",
        "3",
        "--store",
        str(store),
        "--data-dir",
        str(data),
        "--quiet",
        "--no-score",
        "--concurrency",
        "2",
    ]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_eval_through_a_real_server_stores_reproducible_samples_and_resumes(server, shared_data, tmp_path, capsys):
    from transferlab.cli import main

    store = tmp_path / "a.db"
    assert main(eval_args(store, shared_data, server, limit=3)) == 0
    assert "6 completions asked, 0 already stored, 6 generated" in capsys.readouterr().err
    rows = store_rows(store)
    assert len(rows) == 6
    assert all(r[1] in ("stop", "length") and r[2] > 10 and 0 < r[3] <= 12 for r in rows.values())
    assert main(eval_args(store, shared_data, server, limit=3)) == 0
    assert "6 completions asked, 6 already stored, 0 generated" in capsys.readouterr().err
    # The server honours the per-sample seeds: a fresh store gets the very same samples,
    # and the two samples of a prompt differ.
    fresh = tmp_path / "b.db"
    assert main(eval_args(fresh, shared_data, server, limit=3)) == 0
    assert {k: v[0] for k, v in store_rows(fresh).items()} == {k: v[0] for k, v in rows.items()}
    assert len({v[0] for v in rows.values()}) > 3


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_completions_api_renders_and_scores_like_the_hf_backend(server, smollm2):
    from transferlab.backends.hf import HFBackend

    backend = OpenAIBackend("smollm2", [server], api="completions", tokenizer=str(smollm2), settings=PoolSettings(concurrency=2))
    hf = HFBackend(str(smollm2), device="cpu", batch_size=4)
    greedy = GenerationConfig(max_new_tokens=8)
    prompt = backend.render([{"role": "user", "content": "Say hello."}], greedy)
    assert prompt == hf.render([{"role": "user", "content": "Say hello."}], greedy)
    ((slot, completion),) = [pair for group in backend.generate([PromptJob(prompt, (SampleSlot("g", 0, 0),))], greedy) for pair in group]
    assert slot.key == "g" and completion.text and completion.finish_reason in ("stop", "length") and 0 < completion.completion_tokens <= 8
    question = "Question: What is the capital of France?\nAnswer:"
    requests = [(question, " Paris"), (question, " a banana"), ("The opposite of hot is", " cold")]
    ours, ref = backend.loglikelihood(requests), hf.loglikelihood(requests)
    # The continuation is split off by character offsets: the same tokens the HF backend scores.
    assert [r.n_tokens for r in ours] == [r.n_tokens for r in ref] == [1, 2, 1]
    assert all(r.logprob < 0 for r in ours)
    # (Values are not compared: llama-cpp-python 0.3.36 returns each echoed token's log-probability
    # under the logits of its own position, one step late; abetlen/llama-cpp-python#1983.)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_faults_between_client_and_server_lose_and_repeat_nothing(server, tmp_path):
    proxy, url = llama_server.start_fault_proxy(
        server.removesuffix("/v1"), seed=7, each_first=True, drop=0.1, drop_after=0.1, error=0.1, throttle=0.1, delay_rate=0.1, delay=0.3
    )
    with llama_server.running(proxy):
        backend = OpenAIBackend("smollm2", [url], settings=PoolSettings(concurrency=3, backoff_base=0.05, max_attempts=30))
        jobs = jobs_for(6, 2)
        seen = Counter(slot.key for group in backend.generate(jobs, SAMPLED) for slot, completion in group if completion.completion_tokens > 0)
        counts = llama_server.fault_counts(url)
    assert seen == Counter({s.key: 1 for j in jobs for s in j.slots}), "every slot yielded exactly once"
    assert all(counts.get(kind, 0) > 0 for kind in ("drop", "drop_after", "error", "throttle", "delay")), counts


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_stalled_replica_never_holds_the_run_back(server, tmp_path):
    # Every answer through the proxy is held back for 10 minutes: its requests are duplicated on the
    # healthy replica once the queue is empty, so the run ends while the stalled one still sits on them.
    proxy, stalled = llama_server.start_fault_proxy(server.removesuffix("/v1"), delay_rate=1.0, delay=600)
    with llama_server.running(proxy):
        backend = OpenAIBackend("smollm2", [server, stalled], settings=PoolSettings(concurrency=2, hedge_after=0.5))
        jobs = jobs_for(4, 2)
        seen = Counter(slot.key for group in backend.generate(jobs, SAMPLED) for slot, _ in group)
        held = llama_server.fault_counts(stalled)["in_delay"]
    assert seen == Counter({s.key: 1 for j in jobs for s in j.slots})
    assert held >= 1, "the stalled replica took work and still holds it"


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_losing_a_replica_moves_its_work_and_losing_all_stops_cleanly_then_resumes(server_python, gguf, shared_data, tmp_path, capsys):
    from transferlab.cli import main

    a, url_a = llama_server.start_llama_server(server_python, gguf)
    b, url_b = llama_server.start_llama_server(server_python, gguf)
    store = tmp_path / "kill.db"
    with llama_server.running(a), llama_server.running(b):
        cli = subprocess.Popen(
            [sys.executable, "-m", "transferlab.cli", *eval_args(store, shared_data, url_a, url_b, limit=6, tokens=16)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: len(store_rows(store)) >= 1 or cli.poll() is not None)
        assert cli.poll() is None, "the run ended before a replica could be killed"
        b.send_signal(signal.SIGKILL)  # one replica dies mid-run: the other finishes the work
        _, err = cli.communicate(timeout=300)
        assert cli.returncode == 0, err
        assert "12 completions asked, 0 already stored, 12 generated" in err
        assert len(store_rows(store)) == 12

        # Now the only endpoint dies mid-run: a one-line error, a non-zero exit, nothing lost.
        second = tmp_path / "all.db"
        cli = subprocess.Popen(
            [sys.executable, "-m", "transferlab.cli", *eval_args(second, shared_data, url_a, limit=6, tokens=16)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: len(store_rows(second)) >= 1 or cli.poll() is not None)
        assert cli.poll() is None, "the run ended before its server could be killed"
        a.send_signal(signal.SIGKILL)
        _, err = cli.communicate(timeout=300)
    before = store_rows(second)
    assert cli.returncode == 2 and 1 <= len(before) < 12, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("transferlab: error: all 1 endpoint(s) failed") and "run the same command again to resume" in last

    c, url_c = llama_server.start_llama_server(server_python, gguf)  # later, on a new server
    with llama_server.running(c):
        status = main(eval_args(second, shared_data, url_c, limit=6, tokens=16))
    assert status == 0
    assert f"12 completions asked, {len(before)} already stored, {12 - len(before)} generated" in capsys.readouterr().err
    after = store_rows(second)
    assert len(after) == 12 and all(after[k] == v for k, v in before.items())


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


# -- the test servers themselves: a server that cannot serve fails fast, never hangs ---------------
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_server_that_cannot_start_fails_at_once_with_its_status_and_output(server_python, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    started = time.monotonic()
    with pytest.raises(llama_server.ServerBroken) as err:
        llama_server.start_llama_server(server_python, broken)
    assert time.monotonic() - started < 60
    message = str(err.value)
    assert "did not start (exited with status" in message and "last output:" in message
    assert len(message.split("last output:", 1)[1].strip()) > 0


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_dead_session_server_is_restarted_once_then_fails_fast(server_python, gguf):
    shared = llama_server.SessionServer(server_python, gguf)
    try:
        first = shared.url()
        first_proc = shared.server.proc
        first_proc.send_signal(signal.SIGSEGV)  # what the native build did on its first completion
        first_proc.wait(timeout=30)
        second = shared.url()  # detected before the next test: restarted, and it serves
        assert shared.restarts == 1 and shared.server.proc is not first_proc and shared.server.proc.poll() is None
        assert llama_server.models(second) == ["smollm2"] and second != first
        shared.server.proc.send_signal(signal.SIGSEGV)
        shared.server.proc.wait(timeout=30)
        with pytest.raises(llama_server.ServerBroken, match=r"failed again after a restart.*died \(exited with status -11\)"):
            shared.url()
        started = time.monotonic()
        with pytest.raises(llama_server.ServerBroken):  # every later test fails at once
            shared.url()
        assert time.monotonic() - started < 1
    finally:
        shared.close()
