"""Processes of this machine: whether one still runs. Used to tell a dead worker's leases
(:mod:`transferlab.pipeline.share`) and a dead grader's cgroups (:mod:`transferlab.sandbox.cgroups`)
from those of a process that still works."""

from __future__ import annotations

import os
from pathlib import Path


def process_running(pid: int) -> bool:
    """True while process ``pid`` exists on this machine and is not a zombie (killed or exited, not
    yet reaped). Another user's process counts as running. A process id used again by another
    process reads as running: callers treat "running" as the safe answer."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): existing is running
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]  # the state follows the command name, which may hold ")"
