"""Model backends: what turns prompts into completions and continuations into log-likelihoods.

:func:`load_backend` is the one factory: the command line, study runs, distillation and drift all
build their backend through it from a :class:`BackendOptions`. The backends follow the protocol in
:mod:`transferlab.backends.base`:

- ``hf`` (:mod:`~transferlab.backends.hf`): transformers, our own continuous-batching decode loop;
- ``vllm`` (:mod:`~transferlab.backends.vllm`): vLLM's offline engine, data parallel over engines;
- ``openai`` (:mod:`~transferlab.backends.openai_http`): OpenAI-compatible servers over HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transferlab.backends.base import Backend
from transferlab.errors import ConfigError
from transferlab.options import BACKEND_KINDS, ApiKind, BackendKind, Dtype

__all__ = ["Backend", "BackendOptions", "load_backend"]


@dataclass(frozen=True)
class BackendOptions:
    """How a model is run: which backend, and the settings of that backend.

    ``device``, ``dtype`` and ``batch_size`` (rows decoded together) apply to ``hf``;
    ``tensor_parallel`` (GPUs per engine), ``data_parallel`` (engines), ``max_model_len`` (longest
    prompt + completion in tokens, sizing the KV cache; None: the model's) and ``dtype`` to ``vllm``;
    ``api``, ``concurrency`` (requests in flight per endpoint) and ``request_timeout`` (seconds to
    wait for one answer) to ``openai``.
    """

    kind: BackendKind = "hf"
    device: str | None = None
    dtype: Dtype = "auto"
    batch_size: int = 16
    tensor_parallel: int = 1
    data_parallel: int = 1
    max_model_len: int | None = None
    api: ApiKind = "chat"
    concurrency: int = 8
    request_timeout: float = 3600.0


def load_backend(
    model: str,
    options: BackendOptions | None = None,
    *,
    revision: str | None = None,
    endpoints: Sequence[str] = (),
    tokenizer: str | None = None,
    api_key: str | None = None,
) -> Backend:
    """The backend ``options.kind`` for ``model`` (a local folder, a ``.gguf`` file or a hub id; for
    ``openai``, the served model's name), with the hub ``revision`` recorded in its store key.

    ``openai`` also takes the servers' base URLs (``endpoints``, at least one), the tokenizer that
    renders prompts for ``api="completions"`` and a bearer token (``api_key``).
    """
    options = options or BackendOptions()
    if options.kind == "hf":
        from transferlab.backends.hf import HFBackend

        return HFBackend(model, revision=revision, device=options.device, dtype=options.dtype, batch_size=options.batch_size)
    if options.kind == "vllm":
        from transferlab.backends.vllm import VLLMBackend

        return VLLMBackend(
            model,
            revision=revision,
            tensor_parallel=options.tensor_parallel,
            data_parallel=options.data_parallel,
            dtype=options.dtype,
            max_model_len=options.max_model_len,
        )
    if options.kind == "openai":
        from transferlab.backends.http_pool import PoolSettings
        from transferlab.backends.openai_http import OpenAIBackend

        if not endpoints:
            raise ConfigError(
                f"the openai backend has no endpoints for model {model!r}",
                "pass --endpoint http://HOST:PORT/v1 (repeatable), or add endpoints: [http://HOST:PORT/v1] to the model in the study spec",
            )
        settings = PoolSettings(concurrency=options.concurrency, read_timeout=options.request_timeout, api_key=api_key)
        return OpenAIBackend(model, endpoints, api=options.api, tokenizer=tokenizer, revision=revision, settings=settings)
    raise ConfigError(f"unknown backend {options.kind!r}", f"use one of {', '.join(BACKEND_KINDS)}")
