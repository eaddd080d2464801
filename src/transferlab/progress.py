"""Progress display for long steps: in a terminal a rich bar with items/s and ETA; elsewhere (a log
file, a pipe, a batch job) plain periodic lines on stderr: done/total, rate and ETA.

    completions math500: 120/500 (24%), 3.10 completions/s, ETA 2m03s

A plain line is printed when a task starts, every ``$TRANSFERLAB_PROGRESS_SECONDS`` (default 10)
while it advances, and when it finishes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

INTERVAL_ENV = "TRANSFERLAB_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 10.0


class RateColumn(ProgressColumn):
    """Items per second of a task, e.g. ``12.3 completions/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")


def format_duration(seconds: float) -> str:
    """``2h05m``, ``2m03s`` or ``7s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class _PlainTask:
    description: str
    total: float | None
    completed: float
    start_completed: float
    started: float
    printed: float = float("-inf")
    finished: bool = False


class PlainProgress:
    """The part of rich's :class:`~rich.progress.Progress` interface the pipeline uses (``add_task``,
    ``advance``, ``update``, ``disable``), printing plain lines instead of a live bar."""

    disable = False

    def __init__(self, unit: str, *, interval_s: float | None = None, file: TextIO | None = None) -> None:
        self.unit = unit
        self.interval_s = interval_s if interval_s is not None else progress_interval()
        self.file = file if file is not None else sys.stderr
        self.tasks: list[_PlainTask] = []

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **_: Any) -> int:
        now = time.monotonic()
        self.tasks.append(_PlainTask(description, total, completed, completed, now))
        self._report(len(self.tasks) - 1, force=True)
        return len(self.tasks) - 1

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.tasks[task_id].completed += advance
        self._report(task_id)

    def update(
        self,
        task_id: int,
        *,
        description: str | None = None,
        completed: float | None = None,
        total: float | None = None,
        advance: float | None = None,
        **_: Any,
    ) -> None:
        task = self.tasks[task_id]
        task.description = description if description is not None else task.description
        task.completed = completed if completed is not None else task.completed + (advance or 0)
        task.total = total if total is not None else task.total
        self._report(task_id)

    def close(self) -> None:
        """A last line for each task that moved since its last line."""
        for i, task in enumerate(self.tasks):
            if not task.finished and task.completed > task.start_completed:
                self._report(i, force=True)

    def line(self, task_id: int) -> str:
        """The plain line of a task now."""
        task = self.tasks[task_id]
        elapsed = time.monotonic() - task.started
        done = task.completed - task.start_completed
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        count = f"{task.completed:.0f}" if task.total is None else f"{task.completed:.0f}/{task.total:.0f}"
        share = f" ({100 * task.completed / task.total:.0f}%)" if task.total else ""
        text = f"{self.unit} {task.description}: {count}{share}, " + (f"{rate:.2f} {self.unit}/s" if rate else f"- {self.unit}/s")
        if task.total is not None and task.completed >= task.total:
            return text + (f", done in {format_duration(elapsed)}" if done > 0 else ", all done already")
        if rate and task.total is not None:
            return text + f", ETA {format_duration((task.total - task.completed) / rate)}"
        return text + ", ETA -"

    def _report(self, task_id: int, *, force: bool = False) -> None:
        task = self.tasks[task_id]
        now = time.monotonic()
        complete = task.total is not None and task.completed >= task.total
        if task.finished or not (force or complete or now - task.printed >= self.interval_s):
            return
        task.printed = now
        task.finished = complete
        print(self.line(task_id), file=self.file, flush=True)


def progress_interval() -> float:
    """Seconds between plain progress lines: ``$TRANSFERLAB_PROGRESS_SECONDS`` or 10."""
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S


@contextmanager
def progress_bar(unit: str = "items", *, enabled: bool | None = None, plain: bool = True) -> Iterator[Any]:
    """A progress display on stderr: a live bar in a terminal; outside one (``enabled`` None) plain
    periodic lines, or nothing when ``plain`` is False; ``enabled=False``: nothing at all."""
    console = Console(file=sys.stderr)
    if enabled is None and not console.is_terminal and plain:
        progress = PlainProgress(unit)
        try:
            yield progress
        finally:
            progress.close()
        return
    show = console.is_terminal if enabled is None else enabled
    columns: list[Any] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=not show, transient=False) as live:
        yield live
