"""The overview's numbers, computed by the library and kept until the store changes.

The results table comes from :func:`transferlab.pipeline.results.cell_result` (accuracy with its bootstrap
CI, truncation and unclosed-thinking rates) fed one cell at a time, so memory holds one cell's
verdicts, never the store. Where the store records a study with (tuned, base) pairs, the study
analysis (per-benchmark and per-group deltas with paired-bootstrap CIs, TI v1 and v2) comes from
:func:`transferlab.transfer.analysis.analyse_store`. Both run in one background thread: a page asks
for the latest result and is told when a newer one is being computed.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from transferlab.errors import TransferlabError
from transferlab.pipeline.results import BenchmarkResult, cell_result
from transferlab.view.queries import ViewStore


@dataclass(frozen=True)
class Overview:
    """What the overview shows. ``studies``: name -> the analysis, or a sentence saying why none."""

    fingerprint: tuple[Any, ...]
    results: tuple[BenchmarkResult, ...]
    studies: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    studies_pending: bool = False  # the results are in; the studies' analyses are still being computed


def compute_results(vs: ViewStore, *, seed: int = 0, pair: tuple[str, str] | None = None) -> Overview:
    """Every cell's result (the library's :func:`~transferlab.pipeline.results.cell_result`), one cell in memory at a time."""
    started = time.monotonic()
    fingerprint = vs.fingerprint()
    results = tuple(
        cell_result(
            c["model_key"], c["benchmark"], c["gen_key"], vs.cell_rows(c["model_key"], c["benchmark"], c["gen_key"]), seed=seed, definitions=vs.definitions
        )
        for c in vs.cells()
    )
    return Overview(fingerprint, results, {}, time.monotonic() - started, studies_pending=bool(vs.studies()) or pair is not None)


def compute_studies(vs: ViewStore, first: Overview, *, n_resamples: int = 2000, seed: int = 0, pair: tuple[str, str] | None = None) -> Overview:
    """``first`` with every recorded study's analysis added (the library's ``analyse_store``), and
    that of the ``(base, tuned)`` pair named on the command line (``store_analysis``, no study needed)."""
    from transferlab.study.run import study_for_store
    from transferlab.transfer.analysis import analyse_store
    from transferlab.transfer.from_store import store_analysis

    started = time.monotonic()
    studies: dict[str, Any] = {}
    if pair is not None:
        base, tuned = pair
        try:
            studies[f"{tuned} against {base}"] = store_analysis(vs.store, base=base, tuned=tuned, n_resamples=n_resamples, seed=seed)
        except TransferlabError as err:
            studies[f"{tuned} against {base}"] = f"no analysis of {tuned} against {base}: {err}"
    for name in vs.studies():
        try:
            spec, keys = study_for_store(vs.store, None, name)
            studies[name] = analyse_store(vs.store, spec, keys, n_resamples=n_resamples, seed=seed)
        except TransferlabError as err:
            studies[name] = f"no analysis of study {name}: {err}"
    return replace(first, studies=studies, seconds=first.seconds + time.monotonic() - started, studies_pending=False)


def compute_overview(vs: ViewStore, *, n_resamples: int = 2000, seed: int = 0, pair: tuple[str, str] | None = None) -> Overview:
    """Every cell's result and every recorded study's analysis, and the named pair's (the library computes them)."""
    return compute_studies(vs, compute_results(vs, seed=seed, pair=pair), n_resamples=n_resamples, seed=seed, pair=pair)


class OverviewCache:
    """The latest :class:`Overview`, recomputed in a background thread when the store changes."""

    def __init__(self, vs: ViewStore, *, n_resamples: int = 2000, pair: tuple[str, str] | None = None) -> None:
        self.vs = vs
        self.n_resamples = n_resamples
        self.pair = pair
        self._lock = threading.Lock()
        self._current: Overview | None = None
        self._thread: threading.Thread | None = None
        self._attempted: tuple[Any, ...] | None = None  # the store state last computed (or failed) for
        self.error: str | None = None

    def get(self) -> tuple[Overview | None, bool]:
        """(the latest overview or None, whether a newer one is being computed)."""
        fingerprint = self.vs.fingerprint()
        with self._lock:
            current = self._current
            stale = current is None or current.fingerprint != fingerprint
            running = self._thread is not None and self._thread.is_alive()
            if stale and not running and self._attempted != fingerprint:
                self._attempted = fingerprint
                self._thread = threading.Thread(target=self._compute, name="overview", daemon=True)
                self._thread.start()
                running = True
        return current, running

    def wait(self, timeout: float) -> Overview | None:
        """Start (if needed) and wait up to ``timeout`` seconds for an up-to-date overview."""
        self.get()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._current

    def _compute(self) -> None:
        try:  # the results table first (seconds), then the studies' bootstraps (longer), each shown when ready
            overview = compute_results(self.vs, pair=self.pair)
            with self._lock:
                self._current, self.error = overview, None
            if overview.studies_pending:
                overview = compute_studies(self.vs, overview, n_resamples=self.n_resamples, pair=self.pair)
                with self._lock:
                    self._current = overview
        except Exception:  # noqa: BLE001 - shown on the page; the server goes on serving samples
            with self._lock:
                self.error = traceback.format_exc(limit=3)
