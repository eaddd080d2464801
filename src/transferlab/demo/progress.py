"""The demo's one progress display: a row per phase with its ETA, and the whole run's ETA.

Phases run library code that has its own (disabled) progress bars, so the display follows them
from outside: a background thread polls each running phase's ``probe`` (steps written to a
training log, completions and scores committed to the store) twice a second. The overall row
counts expected seconds: a phase at fraction f of its work has done f of its expected time, so
its ETA is the remaining expected time scaled by how fast the run has gone so far.

When stderr is not a terminal (CI, tests) the display is off and one line per phase is printed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Probe = Callable[[], float]


def count_log_steps(path: Path) -> Probe:
    """A probe: optimizer steps recorded so far in a ``train_log.jsonl``."""

    def probe() -> float:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            return 0.0
        return float(sum(1 for line in lines if line.strip() and '"event"' not in line))

    return probe


def count_store_rows(path: Path) -> Probe:
    """A probe: completions plus scores committed to a store so far (read-only connection)."""
    import sqlite3

    def probe() -> float:
        if not Path(path).exists():
            return 0.0
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            try:
                n = db.execute("SELECT (SELECT count(*) FROM completions) + (SELECT count(*) FROM scores)").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0.0
        return float(n)

    return probe


class PhaseDisplay:
    """Rows for the phases (name, bar, done/total, elapsed, ETA) and an overall row.

    Args:
        expected_s: expected seconds of every phase, in run order (the overall row's weights).
        enabled: show the live display (None: only when stderr is a terminal).
    """

    def __init__(self, expected_s: Mapping[str, float], *, enabled: bool | None = None) -> None:
        from rich.console import Console

        self.expected = dict(expected_s)
        self.console = Console(file=sys.stderr)
        self.live = self.console.is_terminal if enabled is None else enabled
        self.times: dict[str, float] = {}
        self.reused: set[str] = set()
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._probe: tuple[str, Probe, float, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @contextmanager
    def running(self) -> Iterator[PhaseDisplay]:
        """Show the display while the demo runs."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        columns = [
            TextColumn("[bold]{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]:<12}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.console, disable=not self.live, transient=False) as progress:
            self._progress = progress
            self._tasks["overall"] = progress.add_task("demo", total=round(sum(self.expected.values())), unit="est. seconds")
            for name in self.expected:
                self._tasks[name] = progress.add_task(name, total=None, start=False, unit="", visible=True)
            poller = threading.Thread(target=self._poll, daemon=True)
            poller.start()
            try:
                yield self
            finally:
                self._stop.set()
                poller.join(timeout=2)

    def start(self, name: str, total: float, unit: str, probe: Probe | None = None) -> None:
        """Mark phase ``name`` as running with ``total`` units of work; ``probe`` reports progress."""
        with self._lock:
            self._phase_start = time.perf_counter()
            self._progress.start_task(self._tasks[name])
            self._progress.update(self._tasks[name], total=max(total, 1), completed=0, unit=unit)
            self._probe = (name, probe, max(total, 1), 0.0) if probe is not None else (name, lambda: 0.0, max(total, 1), 0.0)
        if not self.live:
            print(f"demo: {name} started ({total:g} {unit})", file=sys.stderr, flush=True)

    def advance(self, name: str, done: float) -> None:
        """Set phase ``name``'s completed units (for phases that report progress themselves)."""
        with self._lock:
            if self._probe is not None and self._probe[0] == name:
                self._probe = (name, self._probe[1], self._probe[2], done)
        self._refresh()

    def finish(self, name: str, seconds: float, *, reused: bool = False) -> None:
        """Mark phase ``name`` done (``reused``: its outputs came from an earlier run)."""
        with self._lock:
            self._probe = None
            self.times[name] = seconds
            if reused:
                self.reused.add(name)
            task = self._tasks[name]
            self._progress.start_task(task)
            total = next(t.total for t in self._progress.tasks if t.id == task) or 1
            self._progress.update(task, total=total, completed=total, description=f"{name}" + (" (reused)" if reused else ""))
            self._progress.stop_task(task)
            done = sum(self.expected.get(n, 0.0) for n in self.times)
            self._progress.update(self._tasks["overall"], completed=round(done))
        if not self.live:
            print(f"demo: {name} {'reused' if reused else 'done'} in {seconds:.1f} s", file=sys.stderr, flush=True)

    def _refresh(self) -> None:
        with self._lock:
            if self._probe is None or self._progress is None:
                return
            name, probe, total, manual = self._probe
            try:
                done = max(manual, probe())
            except Exception:  # noqa: BLE001 - a failed poll must never stop the run
                done = manual
            done = min(done, total)
            self._progress.update(self._tasks[name], completed=done)
            finished = sum(self.expected.get(n, 0.0) for n in self.times)
            self._progress.update(self._tasks["overall"], completed=round(finished + self.expected.get(name, 0.0) * done / total))

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self._refresh()


def write_times(path: Path, times: Mapping[str, float], reused: set[str]) -> None:
    """Record the wall time of each phase (seconds) and which were reused."""
    Path(path).write_text(json.dumps({"seconds": dict(times), "reused": sorted(reused)}, indent=2), encoding="utf-8")
