"""The math scorer's worker pool: :class:`MathGradingPool` grades batches in worker processes with a
hard wall-clock limit per answer, so that no answer can hang or crash a run (see
:mod:`transferlab.scoring.math` for how one answer is graded).

The workers never import modules from the user's current folder: a ``dis.py`` or ``random.py``
there must not replace the standard library's. multiprocessing starts its forkserver (and resource
tracker) with ``python -c``, which puts the current folder first on ``sys.path``; they are started
with ``PYTHONSAFEPATH=1`` (Python 3.11+; on 3.10, from an empty folder), and each worker drops the
current folder from its ``sys.path`` before it grades.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from transferlab.errors import TransferlabError
from transferlab.items import Verdict
from transferlab.scoring.math import MathTask, MathVerdict, extract_for, grade_math, load_math_verify

WORKER_START_TIMEOUT_S = 300.0  # importing math-verify (and the main module, under spawn) may be slow


_START_LOCK = threading.Lock()


@contextmanager
def _outside_cwd() -> Iterator[None]:
    """Start processes whose ``python -c`` bootstrap does not import from the current folder."""
    with _START_LOCK:
        previous = os.environ.get("PYTHONSAFEPATH")
        os.environ["PYTHONSAFEPATH"] = "1"
        here = os.getcwd() if sys.version_info < (3, 11) else None
        empty = tempfile.mkdtemp(prefix="transferlab-start-") if here is not None else None
        try:
            if empty is not None:
                os.chdir(empty)
            yield
        finally:
            if here is not None and empty is not None:
                os.chdir(here)
                os.rmdir(empty)
            if previous is None:
                os.environ.pop("PYTHONSAFEPATH", None)
            else:
                os.environ["PYTHONSAFEPATH"] = previous


def _drop_cwd_from_path() -> None:
    """Remove the current folder (``""``, ``"."`` or its absolute path) from ``sys.path``."""
    here = os.path.realpath(os.getcwd())
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != here]


def _worker_main(conn: Connection, soft_timeout_s: float | None, memory_limit_mb: int | None) -> None:
    """Worker loop: receive a chunk of ``(index, task)``, send one ``(index, verdict)`` per task."""
    _drop_cwd_from_path()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    load_math_verify()
    if memory_limit_mb:
        _limit_memory(memory_limit_mb)
    conn.send("ready")  # the parent starts a task's clock only once the worker can grade
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index, task in chunk:
            verdict = grade_math(task, timeout_s=soft_timeout_s)
            conn.send((index, verdict.correct, verdict.extracted, verdict.status, verdict.source))


def _limit_memory(extra_mb: int) -> None:
    """Cap the worker's address space at what it maps now plus ``extra_mb`` (Linux only)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + extra_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass


@dataclass
class _Worker:
    process: Any
    conn: Connection

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


@dataclass
class _Job:
    worker: _Worker
    pending: deque[int]
    deadline: float
    done: bool = field(default=False)


class MathGradingPool:
    """Grade math answers in a pool of worker processes, with a hard time limit per answer.

    Workers are started (forkserver, else spawn: safe when the parent runs torch threads) on the
    first call and reused. Tasks go to workers in chunks; each answer has ``timeout_s`` of wall
    clock from its start; a worker past that is killed and replaced, that answer gets ``"timeout"``
    and the rest of its chunk goes on in the replacement. A worker that dies gives ``"error"`` for
    the answer it was grading only. ``grade`` keeps the order of its input and may be called from
    many threads at once; ``close`` (or leaving a ``with`` block) stops the workers.

    As with any spawn/forkserver pool, a script that uses it must create it under
    ``if __name__ == "__main__":`` (the workers import the main module).
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = 5.0,
        *,
        memory_limit_mb: int | None = 4096,
        soft_timeout_fraction: float | None = 0.8,
    ) -> None:
        """``workers``: processes (default: usable CPUs, at most 8); ``timeout_s``: wall-clock
        limit per answer; ``memory_limit_mb``: address space each worker may add (None: no cap);
        ``soft_timeout_fraction``: the worker's own in-process limit as a share of ``timeout_s``
        (None: only the parent's hard kill stops an answer)."""
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.workers = max(1, workers if workers is not None else min(cpus, 8))
        self.timeout_s = float(timeout_s)
        self.memory_limit_mb = memory_limit_mb
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[int] = set()
        self._live: dict[int, _Worker] = {}
        self._waiting = 0
        self._soft_fraction = soft_timeout_fraction
        self._started = False
        self._closed = False
        self._finalizer = weakref.finalize(self, MathGradingPool._kill_all, self._live)

    # -- life cycle -------------------------------------------------------------------------

    @staticmethod
    def _context() -> Any:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["transferlab.scoring.math_pool", "math_verify"])
        return ctx

    def _spawn(self, *, wait: bool = True) -> _Worker:
        ctx = self._context()
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        # A soft limit inside the worker saves a respawn when Python code can be interrupted.
        soft = None if self._soft_fraction is None else max(0.05, self._soft_fraction * self.timeout_s)
        process = ctx.Process(
            target=_worker_main,
            args=(child_conn, soft, self.memory_limit_mb),
            daemon=True,
            name="transferlab-math",
        )
        with _outside_cwd():
            process.start()
        child_conn.close()
        worker = _Worker(process, parent_conn)
        with self._cond:
            self._live[id(worker)] = worker
        if wait:
            self._await_ready(worker)
        return worker

    def _await_ready(self, worker: _Worker) -> None:
        """Wait until the worker has imported math-verify: start-up (slow when the main module
        imports heavy libraries) must not count against the first answer's limit."""
        ready = False
        try:
            ready = worker.conn.poll(WORKER_START_TIMEOUT_S) and worker.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._discard(worker)
            raise TransferlabError(
                f"a math scorer worker did not start within {WORKER_START_TIMEOUT_S:.0f} s",
                "check that the main script creates MathGradingPool under `if __name__ == '__main__':` and that the machine is not out of memory",
            )

    def _discard(self, worker: _Worker) -> None:
        with self._cond:
            self._live.pop(id(worker), None)
        worker.kill()

    def _start(self) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("MathGradingPool is closed")
            if self._started:
                return
            self._started = True
        fresh = [self._spawn(wait=False) for _ in range(self.workers)]
        try:
            for worker in fresh:
                self._await_ready(worker)
        except TransferlabError:
            for worker in fresh:
                self._discard(worker)
            with self._cond:
                self._started = False
            raise
        with self._cond:
            self._idle.extend(fresh)
            self._cond.notify_all()

    @staticmethod
    def _kill_all(live: dict[int, _Worker]) -> None:
        for worker in list(live.values()):
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in list(live.values()):
            worker.process.join(timeout=1)
            worker.kill()
        live.clear()

    def close(self) -> None:
        """Stop all workers; call it once no ``grade`` call is running."""
        with self._cond:
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()
        self._finalizer()

    def __enter__(self) -> MathGradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workers in and out ------------------------------------------------------------------

    def _acquire(self, block: bool) -> _Worker | None:
        """An idle worker. Without ``block`` (the caller already holds one) it leaves idle workers
        to threads that are waiting with none, so that concurrent callers share the pool."""
        with self._cond:
            if not block:
                return self._idle.pop() if self._idle and not self._waiting else None
            self._waiting += 1
            try:
                while not self._idle:
                    if self._closed:
                        raise RuntimeError("MathGradingPool is closed")
                    self._cond.wait()
                return self._idle.pop()
            finally:
                self._waiting -= 1

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                self._live.pop(id(worker), None)
            else:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.kill()

    # -- grading -----------------------------------------------------------------------------

    def grade(self, tasks: Sequence[MathTask]) -> list[MathVerdict]:
        """Grade ``tasks``; the verdicts come back in the same order."""
        tasks = list(tasks)
        if not tasks:
            return []
        self._start()
        results: list[MathVerdict | None] = [None] * len(tasks)
        size = max(1, min(32, len(tasks) // (4 * self.workers)))
        chunks = deque(deque(range(i, min(i + size, len(tasks)))) for i in range(0, len(tasks), size))
        jobs: dict[int, _Job] = {}
        try:
            while chunks or jobs:
                while chunks:
                    worker = self._acquire(block=not jobs)
                    if worker is None:
                        break
                    self._send(worker, chunks.popleft(), tasks, jobs, chunks)
                self._collect(jobs, tasks, results, chunks)
        except BaseException:
            for job in jobs.values():  # their state is unknown: replace them
                self._discard(job.worker)
                if not self._closed:
                    self._release(self._spawn())
            raise
        return [r if r is not None else MathVerdict(False, None, "error") for r in results]

    def verdicts(self, tasks: Sequence[MathTask]) -> list[Verdict]:
        """:meth:`grade` as benchmark verdicts (score 1.0 or 0.0), in the same order."""
        return [v.to_verdict() for v in self.grade(tasks)]

    def _send(self, worker: _Worker, chunk: deque[int], tasks: list[MathTask], jobs: dict[int, _Job], chunks: deque[deque[int]]) -> None:
        try:
            if not worker.process.is_alive():
                raise OSError("worker died while idle")
            worker.conn.send([(i, tasks[i]) for i in chunk])
        except (OSError, ValueError):  # died while idle: replace it and try once more
            self._discard(worker)
            worker = self._spawn()
            worker.conn.send([(i, tasks[i]) for i in chunk])
        jobs[id(worker)] = _Job(worker, chunk, time.monotonic() + self.timeout_s)

    def _collect(self, jobs: dict[int, _Job], tasks: list[MathTask], results: list[MathVerdict | None], chunks: deque[deque[int]]) -> None:
        """Wait for results until the nearest deadline; handle deaths and timeouts."""
        conns = {job.worker.conn: key for key, job in jobs.items()}
        timeout = max(0.0, min(job.deadline for job in jobs.values()) - time.monotonic())
        for ready in wait(list(conns), timeout=timeout):
            conn = cast(Connection, ready)  # wait() returns the connections it was given
            job = jobs[conns[conn]]
            try:
                while conn.poll():
                    index, correct, extracted, status, source = conn.recv()
                    results[index] = MathVerdict(correct, extracted, status, source)
                    job.pending.remove(index)
                    job.deadline = time.monotonic() + self.timeout_s
            except (EOFError, OSError):
                self._replace(job, jobs, results, chunks, "error", tasks)
                continue
            if not job.pending:
                del jobs[conns[conn]]
                self._release(job.worker)
        now = time.monotonic()
        for job in list(jobs.values()):
            if job.deadline <= now and job.pending:
                self._replace(job, jobs, results, chunks, "timeout", tasks)

    def _replace(
        self, job: _Job, jobs: dict[int, _Job], results: list[MathVerdict | None], chunks: deque[deque[int]], status: str, tasks: list[MathTask]
    ) -> None:
        """Kill a stuck or dead worker; its current answer gets ``status``; the rest is re-queued."""
        jobs.pop(id(job.worker), None)
        self._discard(job.worker)
        if job.pending:
            index = job.pending.popleft()
            extracted = _safe_extract(tasks[index])
            results[index] = MathVerdict(False, extracted, status)
        if job.pending:
            chunks.appendleft(job.pending)
        self._release(self._spawn())


def _safe_extract(task: MathTask) -> str | None:
    try:
        return extract_for(task)
    except Exception:  # noqa: BLE001 - extraction of an answer that broke a worker may break too: report none
        return None
