"""The math answer checker: extraction, benchmark-aware clean-up, then math-verify.

``grade_math`` grades one answer in the calling process; ``MathGrader`` grades batches in a pool of
worker processes with a hard wall-clock limit per answer, so that no answer can hang or crash a run.
The RL reward and every math benchmark use this one scorer.

How an answer is graded:

1. The answer is extracted from the response (``extract.py``; none found → ``no_answer``).
2. Answer and reference(s) are cleaned the same way (``extract.normalize_answer``): math wrappers,
   ``\\text{}`` ("and"/"or" become commas), degree and percent signs, LaTeX spacing, ``{,}``.
3. Both are split into single answers at top-level commas (OlympiadBench's "1,3,5" or
   "(1,2),(3,4)"; commas inside brackets stay with their tuple or interval; a list of references is
   flattened the same way), and each single answer loses the task's unit, unit words, ``x=`` /
   ``f(x)=`` prefixes, thousands separators and leading zeros ("025" → "25").
4. Single answers are compared by ``math_verify.verify`` (numeric, symbolic, set, interval, tuple,
   relation); several answers must match as sets: every reference answer is given, nothing else is,
   in any order (as OlympiadBench's own judge does), a repeated reference answer counting once.
   An Interval answer may be written as an inequality (``x < -5`` for ``(-\\infty, -5)``).

math-verify's own timeout uses ``SIGALRM`` and is switched off everywhere here; the limit is a
``SIGALRM`` timer of our own in ``grade_math`` (main thread only) and a hard kill in ``MathGrader``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from transferlab.errors import TransferlabError
from transferlab.scoring.extract import extract_math_answer, normalize_answer, normalize_part, split_answers

__all__ = ["MathGrader", "MathTask", "MathVerdict", "answers_equivalent", "grade_math"]

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT_S = 300.0  # importing math-verify (and the main module, under spawn) may be slow


@dataclass(frozen=True)
class MathTask:
    """One answer to grade.

    ``response`` is the answer part of a completion (thinking already removed). ``gold`` is the
    reference answer, or a list of references that must all be given. ``style`` picks the extraction
    ("boxed" or "gsm8k"). ``unit`` (OlympiadBench, e.g. "km/h", "^{\\circ}") is removed from both
    sides. ``answer_type`` (OlympiadBench: Numerical / Expression / Tuple / Interval): an Interval
    reference also accepts the equivalent inequality.
    """

    response: str
    gold: str | list[str]
    style: str = "boxed"
    unit: str | None = None
    answer_type: str | None = None


@dataclass(frozen=True)
class MathVerdict:
    """The grade of one answer; ``status`` is "ok", "no_answer", "timeout" or "error"."""

    correct: bool
    extracted: str | None
    status: str


# --------------------------------------------------------------------------------------------
# Comparison (math-verify underneath)
# --------------------------------------------------------------------------------------------


def _mv() -> Any:
    import math_verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


def _parse(text: str) -> list[Any]:
    mv = _mv()
    config = [mv.LatexExtractionConfig(boxed_match_priority=0), mv.ExprExtractionConfig()]
    return mv.parse(f"${text}$", extraction_config=config, parsing_timeout=None)


def _verify_pair(gold: str, pred: str, answer_type: str | None) -> bool:
    if gold == pred:
        return True
    gold_parsed, pred_parsed = _parse(gold), _parse(pred)
    if not gold_parsed or not pred_parsed:
        return False
    interval = (answer_type or "").lower() == "interval"
    return bool(
        _mv().verify(gold_parsed, pred_parsed, allow_set_relation_comp=interval, timeout_seconds=None)
    )


def _match_all(golds: list[str], preds: list[str], answer_type: str | None) -> bool:
    """One-to-one matching of gold answers to predicted answers, in any order."""
    if len(golds) != len(preds):
        return False
    remaining = list(range(len(preds)))
    for gold in golds:
        hit = next((j for j in remaining if preds[j] == gold), None)
        if hit is None:
            hit = next((j for j in remaining if _verify_pair(gold, preds[j], answer_type)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def _dedupe(parts: list[str], answer_type: str | None) -> list[str]:
    kept: list[str] = []
    for part in parts:
        if not any(part == k or _verify_pair(k, part, answer_type) for k in kept):
            kept.append(part)
    return kept


def _sets_match(golds: list[str], preds: list[str], answer_type: str | None) -> bool:
    """Several answers match as sets: every gold answer is given and nothing else is.

    A repeated answer counts once (a reference "90,90" for two equal angles is met by "90").
    """
    if _match_all(golds, preds, answer_type):
        return True
    if len(golds) == len(preds):
        return False
    return _match_all(_dedupe(golds, answer_type), _dedupe(preds, answer_type), answer_type)


def answers_equivalent(
    gold: str | list[str], answer: str, unit: str | None = None, answer_type: str | None = None
) -> bool:
    """Whether the extracted ``answer`` matches the reference(s), after the clean-up above."""
    gold_list = [gold] if isinstance(gold, str) else list(gold)
    gold_parts = [normalize_part(p, unit) for g in gold_list for p in split_answers(normalize_answer(g))]
    gold_parts = [p for p in gold_parts if p]
    pred_whole = normalize_answer(answer)
    pred_parts = [p for p in (normalize_part(p, unit) for p in split_answers(pred_whole)) if p]
    if not gold_parts or not pred_parts:
        return False
    if len(gold_parts) == 1 and len(pred_parts) == 1:
        return _verify_pair(gold_parts[0], pred_parts[0], answer_type)
    if _sets_match(gold_parts, pred_parts, answer_type):
        return True
    # Several answers written as one expression math-verify understands (e.g. "x \in \{1, 2\}").
    return len(gold_parts) > 1 and _verify_pair(",".join(gold_parts), pred_whole, answer_type)


# --------------------------------------------------------------------------------------------
# In-process grading
# --------------------------------------------------------------------------------------------


class _SoftTimeout(BaseException):
    """Raised by our timer; a BaseException so math-verify's ``except Exception`` lets it through."""


def _grade_guarded(task: MathTask) -> MathVerdict:
    extracted = None
    try:
        extracted = extract_math_answer(task.response, task.style)
        if extracted is None:
            return MathVerdict(False, None, "no_answer")
        correct = answers_equivalent(task.gold, extracted, task.unit, task.answer_type)
        return MathVerdict(correct, extracted, "ok")
    except Exception as err:  # noqa: BLE001 - one bad answer must not stop a batch
        log.debug("math grading failed: %r", err)
        return MathVerdict(False, extracted, "error")


def grade_math(task: MathTask, *, timeout_s: float | None = 5.0) -> MathVerdict:
    """Grade one answer in this process; never raises (a failure gives ``status="error"``).

    In the main thread ``timeout_s`` is enforced by a ``SIGALRM`` timer: Python code is interrupted,
    a long computation inside C (a huge integer power) only when it returns. Off the main thread no
    in-process limit is possible; use :class:`MathGrader` for a hard limit.
    """
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not timeout_s or not usable:
        return _grade_guarded(task)

    def on_alarm(signum: int, frame: Any) -> None:
        raise _SoftTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    outer_delay, outer_interval = 0.0, 0.0
    try:
        outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, timeout_s)
        verdict = _grade_guarded(task)
    except _SoftTimeout:
        verdict = MathVerdict(False, None, "timeout")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:  # give back a timer someone else had set (e.g. pytest-timeout)
            remaining = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001), outer_interval)
    if verdict.status == "timeout" or time.monotonic() - started > timeout_s:
        # The alarm may also have been swallowed by a bare ``except`` somewhere underneath.
        verdict = MathVerdict(False, extract_math_answer(task.response, task.style), "timeout")
    return verdict


# --------------------------------------------------------------------------------------------
# The worker pool
# --------------------------------------------------------------------------------------------


def _worker_main(conn: Connection, soft_timeout_s: float | None, memory_limit_mb: int | None) -> None:
    """Worker loop: receive a chunk of ``(index, task)``, send one ``(index, verdict)`` per task."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _mv()
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
            conn.send((index, verdict.correct, verdict.extracted, verdict.status))


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


class MathGrader:
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
        self, workers: int | None = None, timeout_s: float = 5.0, *, memory_limit_mb: int | None = 4096
    ) -> None:
        """``workers``: processes (default: usable CPUs, at most 8); ``timeout_s``: wall-clock
        limit per answer; ``memory_limit_mb``: address space each worker may add (None: no cap)."""
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.workers = max(1, workers if workers is not None else min(cpus, 8))
        self.timeout_s = float(timeout_s)
        self.memory_limit_mb = memory_limit_mb
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[int] = set()
        self._live: dict[int, _Worker] = {}
        self._waiting = 0
        self._soft_fraction: float | None = 0.8
        self._started = False
        self._closed = False
        self._finalizer = weakref.finalize(self, MathGrader._kill_all, self._live)

    # -- life cycle -------------------------------------------------------------------------

    @staticmethod
    def _context() -> Any:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["transferlab.scoring.math", "math_verify"])
        return ctx

    def _spawn(self, *, wait: bool = True) -> _Worker:
        ctx = self._context()
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        # A soft limit inside the worker saves a respawn when Python code can be interrupted.
        soft = None if self._soft_fraction is None else max(0.05, self._soft_fraction * self.timeout_s)
        process = ctx.Process(
            target=_worker_main, args=(child_conn, soft, self.memory_limit_mb), daemon=True,
            name="transferlab-math",
        )
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
                "check that the main script creates MathGrader under `if __name__ == '__main__':` and that the machine is not out of memory",
            )

    def _discard(self, worker: _Worker) -> None:
        with self._cond:
            self._live.pop(id(worker), None)
        worker.kill()

    def _start(self) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("MathGrader is closed")
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

    def __enter__(self) -> MathGrader:
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
                        raise RuntimeError("MathGrader is closed")
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

    def _send(self, worker: _Worker, chunk: deque[int], tasks: list[MathTask],
              jobs: dict[int, _Job], chunks: deque[deque[int]]) -> None:
        try:
            if not worker.process.is_alive():
                raise OSError("worker died while idle")
            worker.conn.send([(i, tasks[i]) for i in chunk])
        except (OSError, ValueError):  # died while idle: replace it and try once more
            self._discard(worker)
            worker = self._spawn()
            worker.conn.send([(i, tasks[i]) for i in chunk])
        jobs[id(worker)] = _Job(worker, chunk, time.monotonic() + self.timeout_s)

    def _collect(self, jobs: dict[int, _Job], tasks: list[MathTask],
                 results: list[MathVerdict | None], chunks: deque[deque[int]]) -> None:
        """Wait for results until the nearest deadline; handle deaths and timeouts."""
        conns = {job.worker.conn: key for key, job in jobs.items()}
        timeout = max(0.0, min(job.deadline for job in jobs.values()) - time.monotonic())
        for conn in wait(list(conns), timeout=timeout):
            job = jobs[conns[conn]]
            try:
                while conn.poll():
                    index, correct, extracted, status = conn.recv()
                    results[index] = MathVerdict(correct, extracted, status)
                    job.pending.remove(index)
                    job.deadline = time.monotonic() + self.timeout_s
            except (EOFError, OSError):
                self._replace(job, jobs, results, chunks, "error", tasks)
                continue
            if not job.pending:
                del jobs[conns[conn]]
                self._release(job.worker)
        now = time.monotonic()
        for key, job in list(jobs.items()):
            if job.deadline <= now and job.pending:
                self._replace(job, jobs, results, chunks, "timeout", tasks)

    def _replace(self, job: _Job, jobs: dict[int, _Job], results: list[MathVerdict | None],
                 chunks: deque[deque[int]], status: str, tasks: list[MathTask]) -> None:
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
        return extract_math_answer(task.response, task.style)
    except Exception:  # noqa: BLE001
        return None
