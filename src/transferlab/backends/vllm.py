"""The vLLM backend: the offline engine on local GPUs (``pip install 'transferlab[vllm]'``).

    transferlab eval --backend vllm --model Qwen/Qwen3-14B --tensor-parallel 4 --data-parallel 2 ...

- Prompts are rendered and tokenized here with the model's own tokenizer, exactly as the Hugging
  Face backend does, and sent as token ids: the same prompt text and the same store keys.
- One engine request per sample slot, ``SamplingParams(n=1, seed=slot.seed)``. vLLM's ``n`` with a
  seed derives the children's seeds from the request's (``seed + index``), so sample ``i`` would
  depend on which other samples were still missing; one request per slot keeps every sample
  reproducible on its own, and vLLM's prefix cache still computes the shared prompt once.
- The engine is stepped (``LLMEngine.step``), so each completion is handed back the moment it
  finishes and committed before the rest are done.
- Data parallel: ``data_parallel`` engine processes, each owning ``tensor_parallel`` GPUs
  (``CUDA_VISIBLE_DEVICES``), pull chunks of requests from one shared queue. (vLLM's own
  ``data_parallel_size`` needs an external launcher per rank for offline use; plain processes do
  the same with nothing to launch.)
- Log-likelihoods and :meth:`VLLMBackend.prompt_logprobs` (for the token-drift analysis) read
  ``prompt_logprobs``, selecting the realised token by its id.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Iterator, Sequence
from typing import Any

from transferlab.backends.base import Completion, Loglikelihood, PromptJob, SampleSlot, render_chat
from transferlab.backends.http_pool import BackendError
from transferlab.errors import ConfigError, missing_extra
from transferlab.spec import GenerationConfig
from transferlab.store import ModelInfo

CHUNK = 64  # requests a data-parallel worker takes at a time
WINDOW = 4096  # requests added to one engine at once


def import_vllm() -> Any:
    """The ``vllm`` module, or the error that says how to install it."""
    try:
        import vllm
    except ImportError as err:
        raise missing_extra("vllm", "vllm") from err
    return vllm


def sampling_kwargs(config: GenerationConfig, seed: int) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments of one sample slot (plain data: crosses processes)."""
    kwargs: dict[str, Any] = {"n": 1, "max_tokens": config.max_new_tokens, "temperature": config.temperature, "skip_special_tokens": True}
    if not config.greedy:
        kwargs.update(top_p=config.top_p, seed=seed)
    if config.stop:
        kwargs["stop"] = list(config.stop)
    kwargs.update(dict(config.extra))
    return kwargs


def output_record(out: Any, want_prompt_logprobs: bool) -> dict[str, Any]:
    """The plain-data summary of a finished vLLM ``RequestOutput``.

    ``prompt_logprobs``: per prompt position ``j >= 1``, ``(logprob, rank)`` of the realised token
    ``prompt_token_ids[j]`` (selected by id; position 0 has none).
    """
    first = out.outputs[0]
    record: dict[str, Any] = {
        "text": first.text, "finish_reason": first.finish_reason or "stop",
        "prompt_tokens": len(out.prompt_token_ids or ()), "completion_tokens": len(first.token_ids or ()),
    }
    if want_prompt_logprobs:
        ids = list(out.prompt_token_ids)
        record["prompt_logprobs"] = [(float(out.prompt_logprobs[j][ids[j]].logprob), int(out.prompt_logprobs[j][ids[j]].rank)) for j in range(1, len(ids))]
    return record


def completion_from_record(record: dict[str, Any]) -> Completion:
    """A :class:`Completion` from :func:`output_record` (vLLM's "abort" and others kept as given)."""
    reason = record["finish_reason"]
    return Completion(text=record["text"], finish_reason="stop" if reason in ("stop", "eos") else reason, prompt_tokens=record["prompt_tokens"], completion_tokens=record["completion_tokens"])


def loglikelihood_from_record(record: dict[str, Any], n_cont: int) -> Loglikelihood:
    """Sum the last ``n_cont`` prompt positions; greedy when each realised token has rank 1."""
    tail = record["prompt_logprobs"][-n_cont:]
    return Loglikelihood(logprob=sum(lp for lp, _ in tail), is_greedy=all(rank == 1 for _, rank in tail), n_tokens=n_cont)


class Engine:
    """One vLLM ``LLMEngine``; runs requests ``(token ids, SamplingParams kwargs)`` and streams results."""

    def __init__(self, **engine_args: Any) -> None:
        vllm = import_vllm()
        self.vllm = vllm
        self.engine = vllm.LLMEngine.from_engine_args(vllm.EngineArgs(**engine_args))
        self.counter = 0

    def run(self, requests: Sequence[tuple[list[int], dict[str, Any]]]) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """Yield ``(request index, record)`` groups as requests finish (at most WINDOW in flight)."""
        from vllm.inputs import TokensPrompt

        ids: dict[str, int] = {}
        todo = iter(range(len(requests)))
        for i in todo:
            self._add(TokensPrompt, requests[i], i, ids)
            if len(ids) >= WINDOW:
                break
        while self.engine.has_unfinished_requests():
            finished = []
            for out in self.engine.step():
                if out.finished:
                    index = ids.pop(out.request_id)
                    finished.append((index, output_record(out, "prompt_logprobs" in requests[index][1])))
            if finished:
                yield finished
                for i in todo:
                    self._add(TokensPrompt, requests[i], i, ids)
                    if len(ids) >= WINDOW:
                        break

    def _add(self, tokens_prompt: Any, request: tuple[list[int], dict[str, Any]], index: int, ids: dict[str, int]) -> None:
        self.counter += 1
        request_id = f"tl-{self.counter}"
        ids[request_id] = index
        self.engine.add_request(request_id, tokens_prompt(prompt_token_ids=request[0]), self.vllm.SamplingParams(**request[1]))


def _worker(rank: int, gpus: str, engine_args: dict[str, Any], tasks: Any, results: Any) -> None:
    """A data-parallel rank: its own GPUs, its own engine, chunks pulled from the shared queue."""
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    try:
        engine = Engine(**engine_args)
        results.put(("ready", rank))
        while (chunk := tasks.get()) is not None:
            for group in engine.run([r for _, r in chunk]):
                results.put(("result", [(chunk[j][0], rec) for j, rec in group]))
    except Exception as err:  # noqa: BLE001 - reported to the parent as one line
        results.put(("error", f"data-parallel rank {rank}: {type(err).__name__}: {err}"))
    results.put(("exit", rank))


class VLLMBackend:
    """A model served by vLLM's offline engine on this machine's GPUs.

    Args:
        model: a local folder, a ``.gguf`` file (converted once) or a hub id.
        revision: hub revision; recorded in the store key.
        tensor_parallel: GPUs per engine (``tensor_parallel_size``).
        data_parallel: engines, each on its own ``tensor_parallel`` GPUs.
        dtype: ``auto``, ``bfloat16``, ``float16`` or ``float32``.
        engine_kwargs: more ``EngineArgs`` (``max_model_len``, ``gpu_memory_utilization``...).
    """

    def __init__(self, model: str, *, revision: str | None = None, tensor_parallel: int = 1, data_parallel: int = 1, dtype: str = "auto", **engine_kwargs: Any) -> None:
        from transferlab.models import resolve_model
        from transferlab.models import load_tokenizer, model_fingerprint

        import_vllm()
        if tensor_parallel < 1 or data_parallel < 1:
            raise ConfigError("--tensor-parallel and --data-parallel must be at least 1", "e.g. --tensor-parallel 4 --data-parallel 2")
        name, folder = resolve_model(model)
        source = str(folder) if folder is not None else model
        self.tokenizer = load_tokenizer(source, revision=revision)
        self.engine_args = {"model": source, "revision": revision, "tensor_parallel_size": tensor_parallel, "dtype": dtype, "enable_prefix_caching": True, **engine_kwargs}
        self.tensor_parallel, self.data_parallel = tensor_parallel, data_parallel
        fingerprint = model_fingerprint(folder) if folder is not None else None
        self.model = ModelInfo(name=name, revision=revision, fingerprint=fingerprint, info={"source": source, "backend": "vllm", "dtype": dtype, "tensor_parallel": tensor_parallel})
        self._engine: Engine | None = None

    def render(self, messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
        """The prompt after the model's chat template (identical to the Hugging Face backend's)."""
        return render_chat(self.tokenizer, messages, config)

    def _encode(self, texts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]]

    def _run(self, requests: list[tuple[list[int], dict[str, Any]]]) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        if self.data_parallel == 1:
            if self._engine is None:
                self._engine = Engine(**self.engine_args)
            yield from self._engine.run(requests)
        else:
            yield from self._run_parallel(requests)

    def _run_parallel(self, requests: list[tuple[list[int], dict[str, Any]]]) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        ctx = mp.get_context("spawn")
        tasks, results = ctx.Queue(), ctx.Queue()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        devices = visible.split(",") if visible else [str(i) for i in range(self.data_parallel * self.tensor_parallel)]
        if len(devices) < self.data_parallel * self.tensor_parallel:
            raise ConfigError(f"{self.data_parallel} x {self.tensor_parallel} GPUs asked, {len(devices)} visible", "lower --data-parallel or --tensor-parallel")
        indexed = list(enumerate(requests))
        for start in range(0, len(indexed), CHUNK):
            tasks.put(indexed[start : start + CHUNK])
        procs = []
        for rank in range(self.data_parallel):
            gpus = ",".join(devices[rank * self.tensor_parallel : (rank + 1) * self.tensor_parallel])
            tasks.put(None)
            procs.append(ctx.Process(target=_worker, args=(rank, gpus, self.engine_args, tasks, results), daemon=True))
        for p in procs:
            p.start()
        yield from self._collect(results, procs, len(requests))

    def _collect(self, results: Any, procs: list[Any], total: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        done, exited, error = 0, 0, None
        try:
            while exited < len(procs) and done < total:
                try:
                    kind, value = results.get(timeout=5)
                except queue.Empty:
                    if not any(p.is_alive() for p in procs):
                        break
                    continue
                if kind == "result":
                    done += len(value)
                    yield value
                elif kind == "error":
                    error = error or value
                elif kind == "exit":
                    exited += 1
        finally:
            for p in procs:
                p.join(timeout=5) if done >= total else p.terminate()
        if done < total:
            raise BackendError(f"vLLM stopped with {total - done} request(s) left ({error or 'a worker died'})", "fix the cause, then run the same command again to resume")

    def generate(self, jobs: Sequence[PromptJob], config: GenerationConfig) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """One engine request per slot; yields completions as they finish."""
        encoded = self._encode([j.prompt for j in jobs], add_special_tokens=not config.chat_template)
        slots = [(ids, slot) for ids, job in zip(encoded, jobs) for slot in job.slots]
        requests = [(ids, sampling_kwargs(config, slot.seed)) for ids, slot in slots]
        for group in self._run(requests):
            yield [(slots[i][1], completion_from_record(rec)) for i, rec in group]

    def _prompt_records(self, rows: Sequence[list[int]]) -> list[dict[str, Any]]:
        params = {"n": 1, "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 1}
        records: list[dict[str, Any] | None] = [None] * len(rows)
        for group in self._run([(list(ids), params) for ids in rows]):
            for i, rec in group:
                records[i] = rec
        return [r for r in records if r is not None]

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        """Continuation log-probabilities from ``prompt_logprobs`` (tokenized as the HF backend does)."""
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
