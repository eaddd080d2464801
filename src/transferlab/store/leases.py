"""Leases: several workers (processes, on one machine) sharing the missing completions of one store.

A worker claims a batch of completion keys that are neither stored nor leased by a live worker,
for ``ttl_s`` seconds; it renews its leases while it works, and a stored completion's lease is
dropped in the transaction that stores it (:meth:`Store.add_completions`). A worker that dies stops
renewing: its leases expire and another worker claims those keys. Each claim is one short write
transaction, so two workers never hold the same key.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from transferlab.store.base import StoreBase, translate

CHUNK = 500  # keys looked up at a time (SQLite's limit on bound parameters is higher)


@dataclass(frozen=True)
class Claim:
    """What one claim found: the keys now leased to the caller, the keys already stored (never to
    be claimed again), how many are leased by other workers, and when the first of those expires."""

    claimed: list[str] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    held_elsewhere: int = 0
    next_expiry: float | None = None


class LeaseMixin(StoreBase):
    """Claim, renew and release leases (see the module docstring)."""

    def claim(self, worker: str, keys: Sequence[str], n: int, ttl_s: float) -> Claim:
        """Lease up to ``n`` of ``keys`` (in their order) to ``worker`` for ``ttl_s`` seconds."""
        now = time.time()
        claimed: list[str] = []
        stored: set[str] = set()
        held, expiry = 0, None
        try:
            with self._transaction() as db:
                db.execute("DELETE FROM leases WHERE expires < ?", (now,))
                for start in range(0, len(keys), CHUNK):
                    chunk = keys[start : start + CHUNK]
                    marks = ",".join("?" * len(chunk))
                    stored.update(r[0] for r in db.execute(f"SELECT key FROM completions WHERE key IN ({marks})", chunk))
                    leases = {r[0]: (r[1], r[2]) for r in db.execute(f"SELECT key, worker, expires FROM leases WHERE key IN ({marks})", chunk)}
                    for key in chunk:
                        if key in stored:
                            continue
                        owner = leases.get(key)
                        if owner is not None and owner[0] != worker:
                            held += 1
                            expiry = owner[1] if expiry is None else min(expiry, owner[1])
                        elif len(claimed) < n:
                            claimed.append(key)
                db.executemany("INSERT OR REPLACE INTO leases (key, worker, expires) VALUES (?, ?, ?)", [(k, worker, now + ttl_s) for k in claimed])
        except sqlite3.Error as err:
            raise translate(err, self.path) from err
        return Claim(claimed, stored, held, expiry)

    def renew(self, worker: str, ttl_s: float) -> int:
        """Extend every lease ``worker`` holds to ``ttl_s`` seconds from now; returns how many."""
        return self._write("UPDATE leases SET expires = ? WHERE worker = ?", [(time.time() + ttl_s, worker)])

    def release(self, worker: str, keys: Sequence[str] | None = None) -> int:
        """Drop ``worker``'s leases (all, or those of ``keys``); returns how many."""
        if keys is None:
            return self._write("DELETE FROM leases WHERE worker = ?", [(worker,)])
        return self._write("DELETE FROM leases WHERE worker = ? AND key = ?", [(worker, k) for k in keys])

    def leases(self) -> dict[str, int]:
        """How many unexpired leases each worker holds."""
        if not self._has_table("leases"):
            return {}
        rows = self._tuples("SELECT worker, count(*) FROM leases WHERE expires >= ? GROUP BY worker", (time.time(),))
        return {str(w): int(n) for w, n in rows}
