"""Sharing the missing completions between workers on one machine (several ``eval`` processes, one
store): each claims a batch of keys through the store's leases, generates it, stores it, claims the
next. Leases are renewed by a thread while the worker lives and expire when it dies, so a killed
worker's claims come back to the others; on this machine at once, where its process is seen to be
gone (a run restarted after a kill does not wait for its own old leases). A worker that finds
everything left claimed by live workers waits for them (or for their leases to expire), so each
``eval`` ends with every completion stored.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from transferlab.errors import StoreError
from transferlab.processes import process_running
from transferlab.store import Store

DEFAULT_CLAIM = 256  # completions claimed at a time: a GPU batch's worth, small enough to share a benchmark
DEFAULT_LEASE_S = 120.0  # a dead worker's claims come back after this long
POLL_S = 2.0  # how often a waiting worker looks again


def worker_name(run_id: str) -> str:
    """This process's name in the lease table: host, process id and run."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def gone_workers(names: Iterable[str]) -> list[str]:
    """The workers among ``names`` (as :func:`worker_name` writes them) that ran on this machine
    and whose process is gone (no such process, or a zombie): their claims need not wait for their
    leases to expire. Workers of other hosts, of this process, or whose process still runs (even
    frozen: their leases expire as usual) are not among them. A process id used again by another
    process reads as alive, which only means waiting for the lease, as before."""
    host, me = socket.gethostname(), os.getpid()
    gone = []
    for name in names:
        parts = name.split(":", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and int(parts[1]) != me and not process_running(int(parts[1])):
            gone.append(name)
    return gone


class LeaseKeeper:
    """This worker's leases on a store: renewed every third of ``ttl_s`` by a thread while the
    ``with`` block runs, released when it ends (also on errors and Ctrl-C)."""

    def __init__(self, store: Store, name: str, ttl_s: float = DEFAULT_LEASE_S) -> None:
        if ttl_s <= 0:
            raise ValueError("a lease must last some time (ttl_s > 0)")
        self.store, self.name, self.ttl_s = store, name, ttl_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lease-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self.free_gone()
        self._thread.start()
        return self

    def free_gone(self) -> int:
        """Release the leases of this machine's workers whose process is gone (:func:`gone_workers`),
        so a run restarted after a kill takes its keys back at once; returns how many were freed."""
        return sum(self.store.release(name) for name in gone_workers(self.store.leases()))

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.store.release(self.name)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                self.store.renew(self.name, self.ttl_s)
            except StoreError:  # locked for a moment: the next beat renews (a lease lasts three beats)
                continue

    def batches(self, queues: Sequence[Sequence[str]], claim: int) -> Iterator[tuple[int, list[str]]]:
        """``(queue index, keys leased to this worker)`` until every key of every queue is stored.

        Queues are taken in order; one whose remaining keys other workers hold is come back to after
        the others, waiting for those keys to be stored or for their leases to expire."""
        pending = [list(q) for q in queues]
        while any(pending):
            progressed, expiry = False, None
            for index, keys in enumerate(pending):
                while keys:
                    got = self.store.claim(self.name, keys, claim, self.ttl_s)
                    taken = set(got.claimed)
                    keys[:] = [k for k in keys if k not in got.stored and k not in taken]
                    if got.next_expiry is not None:
                        expiry = got.next_expiry if expiry is None else min(expiry, got.next_expiry)
                    if not got.claimed:
                        break  # the rest is someone else's, for now
                    progressed = True
                    yield index, got.claimed
                    self.store.release(self.name, got.claimed)  # what of the batch was not stored
            if any(pending) and not progressed and not self.free_gone():
                time.sleep(POLL_S if expiry is None else min(POLL_S, max(0.05, expiry - time.time())))
