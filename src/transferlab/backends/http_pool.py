"""Many HTTP requests over several endpoints at once: retries, work stealing, failover.

:class:`EndpointPool` runs an asyncio loop (aiohttp) in a background thread and hands finished
results to the calling thread over a queue, so a synchronous caller (the backend's ``generate``)
can commit each result the moment it arrives.

- One shared queue of tasks; every endpoint runs ``concurrency`` workers that pull from it, so a
  fast replica takes more work and a slow one less (work stealing).
- When the queue is empty, idle workers duplicate the oldest task still running on *another*
  endpoint (a hedge); the first answer wins and the other is dropped, so one slow or hung replica
  never holds the end of a run back.
- A request that fails with 429, a 5xx or a network error is re-queued after an exponential
  backoff with full jitter (``Retry-After`` honoured), and may then run on any endpoint.
- An endpoint whose connection is refused ``max_connect_failures`` times in a row is marked dead
  and its work moves to the others. With none left, or a request that failed ``max_attempts``
  times, or an answer the server rejects (4xx), the pool stops cleanly: everything already
  finished has been delivered, then :class:`BackendError` is raised (one line).
"""

from __future__ import annotations

import asyncio
import collections
import json
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from transferlab.errors import TransferlabError, missing_extra

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class BackendError(TransferlabError):
    """A generation backend (an inference server, an engine) failed in a way a rerun can fix."""


@dataclass(frozen=True)
class PoolSettings:
    """How the pool talks to its endpoints.

    Attributes:
        concurrency: requests in flight per endpoint.
        read_timeout: seconds to wait for an answer (long: a reasoning model may think for minutes).
        connect_timeout: seconds to open a connection.
        max_attempts: tries per request before the run stops.
        max_connect_failures: refused connections in a row that mark an endpoint dead.
        backoff_base: first retry delay in seconds (doubled per attempt, full jitter).
        backoff_max: longest retry delay in seconds.
        hedge_after: seconds a request must have run before an idle endpoint may duplicate it.
        api_key: sent as ``Authorization: Bearer``.
    """

    concurrency: int = 8
    read_timeout: float = 3600.0
    connect_timeout: float = 10.0
    max_attempts: int = 10
    max_connect_failures: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 30.0
    hedge_after: float = 2.0
    api_key: str | None = None


@dataclass
class _Endpoint:
    url: str
    alive: bool = True
    refused: int = 0  # refused connections in a row
    cool_until: float = 0.0  # monotonic time before which this endpoint sends nothing (429)


@dataclass
class _Task:
    index: int
    path: str
    payload: dict[str, Any]
    attempts: int = 0
    done: bool = False
    queued: bool = True
    running: dict[str, float] = field(default_factory=dict)  # endpoint url -> start time
    calls: dict[str, asyncio.Future[Any]] = field(default_factory=dict)  # endpoint url -> request in flight
    beaten: set[str] = field(default_factory=set)  # endpoints whose copy lost the race (cancelled)


class _Retry(Exception):
    def __init__(self, reason: str, *, refused: bool = False, delay: float | None = None) -> None:
        super().__init__(reason)
        self.refused, self.delay = refused, delay


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff (seconds): uniform in ``[0, min(cap, base * 2**attempt)]``."""
    return rng.uniform(0.0, min(cap, base * (2.0 ** max(0, attempt))))


def retry_after_seconds(value: str | None) -> float | None:
    """The delay of a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class EndpointPool:
    """Send ``(path, payload)`` POST requests to a set of OpenAI-compatible base URLs.

    Args:
        endpoints: base URLs, e.g. ``http://127.0.0.1:8000/v1``.
        settings: see :class:`PoolSettings`.
    """

    def __init__(self, endpoints: Sequence[str], settings: PoolSettings = PoolSettings()) -> None:
        if not endpoints:
            raise BackendError("no endpoint given", "pass --endpoint URL (repeatable)")
        self.urls = [u.rstrip("/") for u in endpoints]
        self.settings = settings
        self.dead: list[str] = []

    # -- synchronous face ---------------------------------------------------------------------
    def run(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """Send every request; yield ``(request index, response JSON)`` groups as they finish.

        Raises :class:`BackendError` after the last deliverable result when the run cannot finish.
        Closing the iterator early cancels what is still in flight.
        """
        if not requests:
            return
        out: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        runner = _Runner(self, [_Task(i, p, d) for i, (p, d) in enumerate(requests)], out, stop)
        thread = threading.Thread(target=runner.main, name="transferlab-http", daemon=True)
        thread.start()
        try:
            while True:
                kind, value = out.get()
                group = [value] if kind == "result" else []
                while kind == "result":  # drain what else is ready: commit in small groups
                    try:
                        kind, value = out.get_nowait()
                    except queue.Empty:
                        kind = "more"
                        break
                    if kind == "result":
                        group.append(value)
                if group:
                    yield group
                if kind == "error":
                    raise value
                if kind == "end":
                    return
        finally:
            stop.set()
            runner.wake()
            thread.join(timeout=30)
            self.dead = [e.url for e in runner.endpoints if not e.alive]


class _Runner:
    """The asyncio side of one :meth:`EndpointPool.run` call (lives in the background thread)."""

    def __init__(self, pool: EndpointPool, tasks: list[_Task], out: queue.Queue[tuple[str, Any]], stop: threading.Event) -> None:
        self.settings = pool.settings
        self.endpoints = [_Endpoint(u) for u in pool.urls]
        self.tasks, self.out, self.stop = tasks, out, stop
        self.remaining = len(tasks)
        self.rng = random.Random(0x5EED)
        self.fatal: BackendError | None = None
        self.last_error = "no error"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.changed: asyncio.Event | None = None

    def wake(self) -> None:
        """Make the loop notice a stop request from another thread."""
        if self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self._signal)
            except RuntimeError:  # loop already closed
                pass

    def main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # noqa: BLE001 - hand anything unexpected to the caller
            self.out.put(("error", err if isinstance(err, Exception) else BackendError(repr(err))))

    async def _main(self) -> None:
        try:
            import aiohttp
        except ImportError as err:
            raise missing_extra("aiohttp", "openai") from err
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        self.pending: collections.deque[_Task] = collections.deque(self.tasks)
        self.in_flight: dict[int, _Task] = {}
        s = self.settings
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout)
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
            workers = [asyncio.create_task(self._worker(session, ep)) for ep in self.endpoints for _ in range(max(1, s.concurrency))]
            watcher = asyncio.create_task(self._cancel_on_stop(workers))
            results = await asyncio.gather(*workers, return_exceptions=True)
            watcher.cancel()
        for result in results:  # a bug in a worker must not pass silently
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                raise result
        if self.stop.is_set():
            self.out.put(("end", None))
        elif self.fatal is not None:
            self.out.put(("error", self.fatal))
        elif self.remaining:
            n = len(self.endpoints)
            self.out.put(
                (
                    "error",
                    BackendError(
                        f"all {n} endpoint(s) failed with {self.remaining} request(s) left (last error: {self.last_error})",
                        "check the servers, then run the same command again to resume: finished completions are stored",
                    ),
                )
            )
        else:
            self.out.put(("end", None))

    async def _cancel_on_stop(self, workers: list[asyncio.Task[None]]) -> None:
        """Cancel the requests in flight once the caller stops or the run cannot finish."""
        while not (self.stop.is_set() or self.fatal is not None):
            await asyncio.sleep(0.05)
        for worker in workers:
            worker.cancel()

    def _finished(self) -> bool:
        return self.stop.is_set() or self.fatal is not None or self.remaining == 0

    def _signal(self) -> None:
        assert self.changed is not None
        self.changed.set()
        self.changed = asyncio.Event()

    async def _wait_change(self, seconds: float) -> None:
        assert self.changed is not None
        try:
            await asyncio.wait_for(self.changed.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _take(self, ep: _Endpoint) -> _Task | None:
        """The next task for ``ep``: a queued one, else a hedge of a slow one running elsewhere."""
        while self.pending:
            task = self.pending.popleft()
            task.queued = False
            if not task.done:
                return task
        if len(self.endpoints) < 2:
            return None
        now = time.monotonic()
        running = [t for t in self.in_flight.values() if ep.url not in t.running and len(t.running) < 2]
        running = [t for t in running if now - min(t.running.values()) >= self.settings.hedge_after]
        return min(running, key=lambda t: min(t.running.values()), default=None)

    async def _worker(self, session: Any, ep: _Endpoint) -> None:
        while ep.alive and not self._finished():
            wait = ep.cool_until - time.monotonic()
            if wait > 0:
                await self._wait_change(wait)
                continue
            task = self._take(ep)
            if task is None:
                await self._wait_change(0.25)
                continue
            task.running[ep.url] = time.monotonic()
            self.in_flight[task.index] = task
            call = task.calls[ep.url] = asyncio.ensure_future(self._post(session, ep, task))
            try:
                body = await call
            except _Retry as err:
                self._failed(ep, task, err)
                continue
            except BackendError as err:
                self.fatal = self.fatal or err
                self._signal()
                return
            except asyncio.CancelledError:
                if ep.url in task.beaten and not self._finished():
                    continue  # our copy lost the race: this worker goes on
                raise
            finally:
                task.running.pop(ep.url, None)
                task.calls.pop(ep.url, None)
                task.beaten.discard(ep.url)
                if not task.running:
                    self.in_flight.pop(task.index, None)
            ep.refused = 0
            if not task.done:  # the first answer wins; a hedge's twin is cancelled
                task.done = True
                self.remaining -= 1
                self.in_flight.pop(task.index, None)
                for url, other in list(task.calls.items()):
                    task.beaten.add(url)
                    other.cancel()
                self.out.put(("result", (task.index, body)))
                self._signal()

    async def _post(self, session: Any, ep: _Endpoint, task: _Task) -> dict[str, Any]:
        import aiohttp

        url = f"{ep.url}/{task.path.lstrip('/')}"
        try:
            async with session.post(url, json=task.payload) as resp:
                text = await resp.text()
                if resp.status == 200:
                    try:
                        return json.loads(text)
                    except json.JSONDecodeError as err:
                        raise _Retry(f"{ep.url}: invalid JSON in the answer") from err
                if resp.status in RETRY_STATUS or resp.status >= 500:
                    raise _Retry(f"{ep.url}: HTTP {resp.status}", delay=retry_after_seconds(resp.headers.get("Retry-After")))
                raise BackendError(
                    f"{ep.url} rejected a request with HTTP {resp.status}: {_one_line(text)}",
                    "fix the request settings (model name, context length, sampling options) and run again to resume",
                )
        except aiohttp.ClientConnectorError as err:
            raise _Retry(f"{ep.url}: cannot connect ({_one_line(str(err), 80)})", refused=True) from err
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as err:
            raise _Retry(f"{ep.url}: {type(err).__name__} {_one_line(str(err), 80)}") from err

    def _failed(self, ep: _Endpoint, task: _Task, err: _Retry) -> None:
        """Re-queue ``task`` after a backoff; mark ``ep`` dead after too many refused connections."""
        s = self.settings
        self.last_error = str(err)
        if err.refused:  # the endpoint's fault, not the request's: bounded by the endpoint's death
            ep.refused += 1
            if ep.refused >= s.max_connect_failures:
                ep.alive = False
                self._signal()
        if task.done:
            return
        task.attempts += 0 if err.refused else 1
        if task.attempts >= s.max_attempts:
            self.fatal = self.fatal or BackendError(
                f"a request failed {task.attempts} times (last error: {err})", "check the servers, then run the same command again to resume"
            )
            self._signal()
            return
        delay = err.delay if err.delay is not None else backoff_delay(task.attempts, s.backoff_base, s.backoff_max, self.rng)
        if err.delay is not None:
            ep.cool_until = time.monotonic() + err.delay
        assert self.loop is not None
        self.loop.call_later(delay, self._requeue, task)

    def _requeue(self, task: _Task) -> None:
        if not task.done and not task.queued:
            task.queued = True
            self.pending.append(task)
            self._signal()


def first_choice(body: dict[str, Any], where: str) -> dict[str, Any]:
    """``body["choices"][0]``, or a :class:`BackendError` naming the server."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices:
        raise BackendError(f"{where} answered without choices: {_one_line(json.dumps(body))}", "check that the endpoint is an OpenAI-compatible /v1 URL")
    return choices[0]
