"""vLLM's real engine, collected only where ``vllm`` imports: the vLLM venv (scripts/vllm-venv.sh,
driven by tests/test_vllm_backend.py) or a GPU machine with ``transferlab[vllm]``.

One engine per model is shared by the whole session. Engines made here run in this process
(``VLLM_ENABLE_V1_MULTIPROCESSING=0``: no engine-core process, a third of the start-up time); the
command-line checks start real ``transferlab`` processes, one of them with vLLM's default engine
processes.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

HAS_VLLM = importlib.util.find_spec("vllm") is not None
collect_ignore_glob = [] if HAS_VLLM else ["test_*.py"]
if HAS_VLLM:
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

TINY_HIDDEN = 128  # 4 heads of 32: vLLM's CPU attention takes head sizes of 32 and up (the default tiny model has 16)


@pytest.fixture(scope="session")
def tiny32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test model (a random Qwen2, trained BPE tokenizer) with a head size vLLM's CPU kernels take."""
    from transferlab.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny32") / "tiny-qwen2-h128", seed=0, hidden_size=TINY_HIDDEN)


@pytest.fixture(scope="session")
def tiny_engine(tiny32: Path):
    from transferlab.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(tiny32), dtype="float32")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def smollm2_engine(smollm2: Path):
    from transferlab.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(smollm2), dtype="float32", max_model_len=2048)
    yield backend
    backend.close()
