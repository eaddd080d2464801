"""vLLM's engine in this process or in data-parallel rank processes, for :mod:`transferlab.backends.vllm`.

:class:`Engine` wraps the ``LLMEngine`` inside ``vllm.LLM`` (``LLM.generate``'s defaults) and steps
it with final-only outputs, yielding plain-data records (they cross processes) as requests finish.
:class:`RankPool` runs one engine per data-parallel rank, each on its own GPUs or CPU cores.
A watcher process kills an engine's processes if its owner dies without shutting them down.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from transferlab.backends.http_pool import BackendError
from transferlab.errors import ConfigError, missing_extra

CHUNK = 64  # requests a data-parallel rank takes at a time
WINDOW = 4096  # requests added to one engine at once
RESUME = "fix the cause, then run the same command again to resume"
Request = tuple[list[int], dict[str, Any]]  # (prompt token ids, SamplingParams keyword arguments)
Records = Iterator[list[tuple[int, dict[str, Any]]]]  # groups of (request index, record) as requests finish


def import_vllm() -> Any:
    """The ``vllm`` module, or the error that says how to install it."""
    try:
        import vllm
    except ImportError as err:
        raise missing_extra("vllm", "vllm") from err
    return vllm


def cpu_binding(cores: Sequence[int], data_parallel: int, tensor_parallel: int) -> list[str]:
    """Per data-parallel rank, its ``VLLM_CPU_OMP_THREADS_BIND``: disjoint cores, one list per
    tensor-parallel worker joined by ``|`` (cores are shared round-robin when there are too few)."""
    workers = data_parallel * tensor_parallel
    per = max(1, len(cores) // workers)
    lists = [[cores[(w * per + i) % len(cores)] for i in range(per)] for w in range(workers)]
    binds = [",".join(str(c) for c in sorted(set(cpus))) for cpus in lists]
    return ["|".join(binds[r * tensor_parallel : (r + 1) * tensor_parallel]) for r in range(data_parallel)]


def rank_environments(data_parallel: int, tensor_parallel: int, cpu: bool) -> list[dict[str, str]]:
    """The environment of each data-parallel rank: its GPUs, or on a CPU its cores."""
    if cpu:
        if os.environ.get("VLLM_CPU_OMP_THREADS_BIND"):
            return [{} for _ in range(data_parallel)]  # the user's own binding
        binds = cpu_binding(sorted(os.sched_getaffinity(0)), data_parallel, tensor_parallel)
        return [{"VLLM_CPU_OMP_THREADS_BIND": b, "OMP_NUM_THREADS": str(len(b.split("|")[0].split(",")))} for b in binds]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(_gpu_count())]
    if len(devices) < data_parallel * tensor_parallel:
        raise ConfigError(f"{data_parallel} x {tensor_parallel} GPUs asked, {len(devices)} visible", "lower --data-parallel or --tensor-parallel")
    return [{"CUDA_VISIBLE_DEVICES": ",".join(devices[r * tensor_parallel : (r + 1) * tensor_parallel])} for r in range(data_parallel)]


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def output_record(out: Any, want_prompt_logprobs: bool) -> dict[str, Any]:
    """The plain-data summary of a finished vLLM ``RequestOutput``.

    ``prompt_logprobs``: per prompt position ``j >= 1``, ``(logprob, rank)`` of the realised token
    ``prompt_token_ids[j]`` (selected by id; position 0 has none).
    """
    first = out.outputs[0]
    stop_reason = first.stop_reason if isinstance(first.stop_reason, (str, int)) else None
    record: dict[str, Any] = {
        "token_ids": list(first.token_ids or ()),
        "finish_reason": first.finish_reason,
        "stop_reason": stop_reason,
        "prompt_tokens": len(out.prompt_token_ids or ()),
    }
    if want_prompt_logprobs:
        ids = list(out.prompt_token_ids)
        record["prompt_logprobs"] = [(float(out.prompt_logprobs[j][ids[j]].logprob), int(out.prompt_logprobs[j][ids[j]].rank)) for j in range(1, len(ids))]
    return record


# Reads "pid:start-time" words until its stdin closes (its parent shut the engine down, exited or
# was killed), then kills those processes that still run.
WATCHER = """
import sys, psutil
marks = [w.split(":") for line in sys.stdin for w in line.split()]
for pid, started in marks:
    try:
        p = psutil.Process(int(pid))
        if abs(p.create_time() - float(started)) < 0.01:
            p.kill()
    except psutil.Error:
        pass
"""


def descendants() -> dict[int, float]:
    """This process's descendants: pid -> start time."""
    import psutil

    out = {}
    for child in psutil.Process().children(recursive=True):
        try:
            out[child.pid] = child.create_time()
        except psutil.Error:
            pass
    return out


def watch_engine_processes(before: dict[int, float]) -> subprocess.Popen[str] | None:
    """A watcher that kills the processes an engine started (those not in ``before``) once this
    process is gone: vLLM's engine core has no parent-death check, so a SIGKILLed run would leave it
    holding the model's memory (on a GPU, the memory the resumed run needs)."""
    started = {pid: t for pid, t in descendants().items() if pid not in before}
    if not started:
        return None
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER], stdin=subprocess.PIPE, text=True, start_new_session=True)
    assert watcher.stdin is not None
    watcher.stdin.write(" ".join(f"{pid}:{t}" for pid, t in started.items()) + "\n")
    watcher.stdin.flush()
    return watcher


class Engine:
    """One vLLM engine; runs :data:`Request` s and streams their records as they finish."""

    def __init__(self, **engine_args: Any) -> None:
        vllm = import_vllm()
        from vllm.exceptions import VLLMClientError
        from vllm.sampling_params import RequestOutputKind

        self.refused = (ValueError, VLLMClientError)  # what vLLM raises for a request it validates and rejects
        before = descendants()
        self.llm = vllm.LLM(**engine_args)
        self.watcher = watch_engine_processes(before)
        self.engine = self.llm.llm_engine
        self.params, self.final = vllm.SamplingParams, RequestOutputKind.FINAL_ONLY
        self.counter = itertools.count()

    def run(self, requests: Sequence[Request]) -> Records:
        """Yield ``(request index, record)`` groups as requests finish (at most WINDOW in flight)."""
        ids: dict[str, int] = {}
        todo = iter(enumerate(requests))
        try:
            self._fill(todo, ids)
            while ids:
                finished = [(ids.pop(out.request_id), out) for out in self.engine.step() if out.finished and out.request_id in ids]
                if finished:
                    yield [(i, output_record(out, "prompt_logprobs" in requests[i][1])) for i, out in finished]
                    self._fill(todo, ids)
        finally:
            if ids:  # abandoned mid-way: the engine must not keep working on them
                with contextlib.suppress(Exception):  # a dead engine has nothing left to abort
                    self.engine.abort_request(list(ids))

    def _fill(self, todo: Iterator[tuple[int, Request]], ids: dict[str, int]) -> None:
        for index, (tokens, kwargs) in todo:
            params = self.params(**kwargs)
            params.output_kind = self.final
            request_id = f"tl-{next(self.counter)}"
            try:
                self.engine.add_request(request_id, {"prompt_token_ids": tokens}, params)
            except self.refused as err:  # a prompt longer than max_model_len, a bad sampling setting...
                raise ConfigError(f"vLLM refused a request: {str(err).splitlines()[0]}", "shorten the prompts or raise --max-model-len") from err
            ids[request_id] = index
            if len(ids) >= WINDOW:
                return

    def close(self) -> None:
        """Shut the engine's processes down now (else at exit)."""
        self.engine.engine_core.shutdown()
        if self.watcher is not None and self.watcher.stdin is not None:
            self.watcher.stdin.close()  # it kills what is left, then exits
            self.watcher.wait(timeout=30)


def _exit_with_parent() -> None:
    """End this process when its parent dies (a SIGKILLed run must not leave engines behind)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _rank(rank: int, env: dict[str, str], engine_args: dict[str, Any], tasks: Any, results: Any) -> None:
    """A data-parallel rank: its own devices, its own engine, chunks pulled from the shared queue."""
    os.environ.update(env)
    _exit_with_parent()
    try:
        engine = Engine(**engine_args)
        while (chunk := tasks.get()) is not None:
            for group in engine.run([r for _, r in chunk]):
                results.put(("result", [(chunk[j][0], rec) for j, rec in group]))
        engine.close()
    except Exception as err:  # noqa: BLE001 - reported to the parent as one line
        results.put(("error", f"data-parallel rank {rank}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"))


class RankPool:
    """The data-parallel engine processes, started once and kept until :meth:`close`."""

    def __init__(self, engine_args: dict[str, Any], environments: list[dict[str, str]]) -> None:
        ctx = mp.get_context("spawn")  # vLLM cannot run in a forked copy of a process that imported it
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=_rank, args=(r, env, engine_args, self.tasks, self.results), daemon=True) for r, env in enumerate(environments)]
        for p in self.procs:
            p.start()

    def run(self, requests: Sequence[Request]) -> Records:
        """Yield ``(request index, record)`` groups as the ranks finish them; an error or a dead
        rank stops every rank (what was handed back is kept by the caller)."""
        indexed = list(enumerate(requests))
        for start in range(0, len(indexed), CHUNK):
            self.tasks.put(indexed[start : start + CHUNK])
        done, ok = 0, False
        try:
            while done < len(indexed):
                try:
                    kind, value = self.results.get(timeout=5)
                except queue.Empty:
                    if all(p.is_alive() for p in self.procs):
                        continue
                    kind, value = "error", "a data-parallel rank died"
                if kind == "error":
                    raise BackendError(f"vLLM stopped with {len(indexed) - done} request(s) left ({value})", RESUME)
                done += len(value)
                yield value
            ok = True
        finally:
            if not ok:
                self.close(wait=False)

    def close(self, wait: bool = True) -> None:
        """Stop the ranks: after their queue (``wait``), or at once."""
        for _ in self.procs:
            self.tasks.put(None)
        for p in self.procs:
            p.join(timeout=60 if wait else 0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
        self.procs = []
