"""A cgroup per sandboxed run, so that the kernel counts and limits its memory and tasks.

The kernel charges a cgroup with every page its processes use, resident or not: anonymous memory,
tmpfs and shared memory, memfd files, page tables, swap. A run's cgroup has a memory limit (swap
included), a tasks limit, and its peak is read back as the run's peak memory; when the limit is
reached the kernel's OOM killer stops the run, and the run reports status "memory".

Both cgroup versions, each controller found where the machine mounts it:

- v1 (``/sys/fs/cgroup/memory``, ``/sys/fs/cgroup/pids``): ``memory.limit_in_bytes`` and
  ``memory.memsw.limit_in_bytes`` (RAM plus swap, where the kernel accounts swap), ``pids.max``;
  the peak is ``memory.memsw.max_usage_in_bytes`` (``memory.max_usage_in_bytes`` without swap
  accounting); OOM kills are counted in ``memory.oom_control``.
- v2 (one ``cgroup2`` mount): ``memory.max``, ``memory.swap.max`` set to 0 (so RAM alone holds the
  limit), ``pids.max``; the peak is ``memory.peak`` (Linux 5.19 and later); OOM kills are counted in
  ``memory.events``.

Each run's cgroup is ``<base>/run-<pid>-<n>`` in each hierarchy, ``<base>`` being ``transferlab``
under the mount, or ``$TRANSFERLAB_SANDBOX_CGROUP``: a name under the mounts, or (v2) the absolute
path of a cgroup delegated to a user who is not root. The run's first process writes itself into
the run's ``cgroup.procs`` before it starts bubblewrap (:func:`launcher`), so everything the program
does is counted from the start; the cgroup is removed when the run is over, and the cgroups of
graders that died are swept up by the next grader.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import shlex
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from transferlab.processes import process_running

ENV_BASE = "TRANSFERLAB_SANDBOX_CGROUP"
DEFAULT_BASE = "transferlab"
OWN_TASKS = 2  # bwrap's monitor and the sandbox's pid 1, besides the program's own tasks
WANTED = ("memory", "pids")
_RUN_NAME = re.compile(r"run-(\d+)-\w+")
_counter = itertools.count()


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy and which of the controllers we use it carries."""

    version: int  # 1 or 2
    mount: Path
    controllers: frozenset[str]


def find_hierarchies(mountinfo: str) -> list[Hierarchy]:
    """The cgroup hierarchies in a ``/proc/self/mountinfo`` text that carry memory or pids
    (a v2 mount's controllers are read from its ``cgroup.controllers``)."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount = Path(_unescape(fields[4]))
        fstype, _source, options = line.split(" - ", 1)[1].split()[:3]
        if fstype == "cgroup":
            have = frozenset(options.split(",")) & frozenset(WANTED)
            if have:
                found.append(Hierarchy(1, mount, have))
        elif fstype == "cgroup2":
            try:
                listed = (mount / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            found.append(Hierarchy(2, mount, frozenset(listed) & frozenset(WANTED)))
    return found


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


@dataclass
class Cgroups:
    """Where this machine's runs get their cgroups: for each controller, its hierarchy and the
    base directory under which each run's cgroup is made."""

    bases: dict[str, tuple[Hierarchy, Path]] = field(default_factory=dict)  # controller -> where
    problems: dict[str, str] = field(default_factory=dict)  # controller -> why it is missing

    @property
    def problem(self) -> str:
        """Why controllers are missing, in words ("" when none is)."""
        return "; ".join(f"{c}: {why}" for c, why in self.problems.items())

    @property
    def memory_version(self) -> int | None:
        return self.bases["memory"][0].version if "memory" in self.bases else None

    @property
    def pids_version(self) -> int | None:
        return self.bases["pids"][0].version if "pids" in self.bases else None

    def swap_counted(self) -> bool:
        """Whether the memory limit covers swap too (v1: the kernel accounts swap, memsw)."""
        if "memory" not in self.bases:
            return False
        hierarchy, base = self.bases["memory"]
        if hierarchy.version == 1:
            return (hierarchy.mount / "memory.memsw.limit_in_bytes").exists()
        return (base / "memory.swap.max").exists()  # v2: set to 0 in each run's cgroup

    def create(self, limits_memory_bytes: int, max_tasks: int) -> RunCgroup:
        """Make one run's cgroup in every base, with its limits; raises OSError on failure."""
        name = f"run-{os.getpid()}-{next(_counter)}"
        run = RunCgroup({})
        try:
            for base in {b for _, b in self.bases.values()}:
                path = base / name
                path.mkdir(exist_ok=True)
                run.dirs[path] = next(h for h, b in self.bases.values() if b == base)
            for controller, (hierarchy, base) in self.bases.items():
                run.set_limit(controller, hierarchy.version, base / name, limits_memory_bytes, max_tasks)
        except OSError:
            run.remove()
            raise
        return run


def setup(hierarchies: Iterable[Hierarchy], base_name: str | None = None) -> Cgroups:
    """Make the base cgroups under which runs get theirs (once per process); a controller that
    cannot be had is left out, and ``problems`` says why."""
    base_name = base_name or os.environ.get(ENV_BASE) or DEFAULT_BASE
    found = Cgroups()
    for controller in WANTED:
        mounts = [h for h in hierarchies if controller in h.controllers]
        # v1 holds a controller exclusively: where it is mounted on v1, v2 cannot have it
        mounts.sort(key=lambda h: h.version)
        if not mounts:
            found.problems[controller] = "no cgroup hierarchy carries it"
            continue
        hierarchy = mounts[0]
        base = Path(base_name) if os.path.isabs(base_name) else hierarchy.mount / base_name
        if not _under(base, hierarchy.mount):
            found.problems[controller] = f"{base} is not under its hierarchy {hierarchy.mount}"
            continue
        try:
            _make_base(hierarchy, base)
        except OSError as err:
            found.problems[controller] = f"cannot use {base} ({err.strerror or err})"
            continue
        found.bases[controller] = (hierarchy, base)
        sweep(base)
    return found


def _make_base(hierarchy: Hierarchy, base: Path) -> None:
    if hierarchy.version == 1:
        base.mkdir(parents=True, exist_ok=True)
    else:  # v2: a cgroup's children get only the controllers it enables
        parts = base.relative_to(hierarchy.mount).parts
        for depth in range(len(parts)):
            parent = hierarchy.mount.joinpath(*parts[:depth])
            _enable(parent, hierarchy.controllers)
            (parent / parts[depth]).mkdir(exist_ok=True)
        _enable(base, hierarchy.controllers)
    probe = base / f"run-{os.getpid()}-probe"  # can we make a run's cgroup here?
    probe.mkdir(exist_ok=True)
    probe.rmdir()


def _enable(cgroup: Path, controllers: Iterable[str]) -> None:
    """v2: let ``cgroup``'s children have ``controllers``."""
    have = (cgroup / "cgroup.subtree_control").read_text().split()
    missing = [c for c in sorted(controllers) if c not in have]
    if missing:
        (cgroup / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def sweep(base: Path) -> list[Path]:
    """Remove the run cgroups left under ``base`` by graders that are gone; the ones removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            match = _RUN_NAME.fullmatch(entry.name)
            if match and not process_running(int(match.group(1))) and RunCgroup({entry: None}).remove():
                removed.append(entry)
    return removed


def launcher(procs_files: list[str]) -> list[str]:
    """A command prefix that writes its own process into each ``cgroup.procs`` and then execs
    the rest of the command, so that bwrap and all it starts are in the run's cgroups."""
    joins = " && ".join(f"echo 0 > {shlex.quote(path)}" for path in procs_files)
    script = f"{{ {joins}; }} || {{ echo 'transferlab-sandbox: cannot join the run cgroup' >&2; exit 125; }}; exec \"$@\""
    return ["/bin/sh", "-c", script, "transferlab-sandbox"]


def limit_files(controller: str, version: int, memory: int, tasks: int) -> list[tuple[str, str, bool]]:
    """(file, value, required) for one controller's limits: ``memory`` bytes (swap included:
    v1's memsw where the kernel accounts swap, v2 with no swap at all), ``tasks`` tasks."""
    if controller == "pids":
        return [("pids.max", str(tasks), True)]
    if version == 1:  # memsw must come second: it may never be below the plain limit
        return [("memory.limit_in_bytes", str(memory), True), ("memory.memsw.limit_in_bytes", str(memory), False)]
    return [("memory.max", str(memory), True), ("memory.swap.max", "0", False)]


@dataclass
class RunCgroup:
    """One run's cgroup, a directory in each hierarchy used."""

    dirs: dict[Path, Hierarchy | None]

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs]

    def set_limit(self, controller: str, version: int, path: Path, memory: int, tasks: int) -> None:
        """Write one controller's limits into the run's cgroup at ``path``."""
        for name, value, required in limit_files(controller, version, memory, tasks):
            if required or (path / name).exists():
                _write(path / name, value)

    def _memory_dir(self) -> tuple[Path, int] | None:
        for path, hierarchy in self.dirs.items():
            if hierarchy is not None and "memory" in hierarchy.controllers:
                return path, hierarchy.version
        return None

    def peak_bytes(self) -> int | None:
        """The kernel's peak memory of the run, in bytes; None where the kernel has no peak."""
        found = self._memory_dir()
        if found is None:
            return None
        path, version = found
        names = ["memory.memsw.max_usage_in_bytes", "memory.max_usage_in_bytes"] if version == 1 else ["memory.peak"]
        for name in names:
            with contextlib.suppress(OSError, ValueError):
                return int((path / name).read_text())
        return None

    def oom_kills(self) -> int:
        """How many processes of the run the kernel's OOM killer killed."""
        found = self._memory_dir()
        if found is None:
            return 0
        path, version = found
        name = "memory.oom_control" if version == 1 else "memory.events"
        with contextlib.suppress(OSError):
            for line in (path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def kill_all(self) -> None:
        """SIGKILL every process left in the run's cgroups."""
        for path in self.dirs:
            with contextlib.suppress(OSError):
                if (path / "cgroup.kill").exists():
                    _write(path / "cgroup.kill", "1")
                    continue
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)

    def remove(self, wait_s: float = 2.0) -> bool:
        """Remove the run's cgroups (killing what is left in them); whether all are gone."""
        deadline = time.monotonic() + wait_s
        for path in list(self.dirs):
            pause = 0.0002
            while True:
                try:
                    path.rmdir()
                except FileNotFoundError:
                    pass
                except OSError as err:  # EBUSY: a task that has exited may count for a moment
                    if err.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    self.kill_all()
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                    continue
                del self.dirs[path]
                break
        return not self.dirs


def _write(path: Path, value: str) -> None:
    with open(path, "w") as file:
        file.write(value)
