"""Run model-written Python in the sandbox: one program (:func:`run_python`) or many in parallel
(:func:`run_many`).

Each run gets a fresh unprivileged uid (as root), a cgroup of its own where the machine allows it
(:mod:`transferlab.sandbox.cgroups`), the seccomp filter (:mod:`transferlab.sandbox.seccomp`) and
the bubblewrap sandbox (:mod:`transferlab.sandbox.bwrap`). Where no cgroup can be had, the sandbox
says so once and runs with the filter and the per-process limits, the parent sampling the memory.
Where bubblewrap or libseccomp is missing, :func:`check_available` raises
:class:`TransferlabError`: code is never run outside the sandbox.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from transferlab.errors import TransferlabError
from transferlab.sandbox import bwrap, seccomp
from transferlab.sandbox.cgroups import (
    OWN_TASKS,
    Cgroups,
    RunCgroup,
    find_hierarchies,
    launcher,
    setup,
)
from transferlab.sandbox.limits import DEFAULT_LIMITS, SandboxLimits, SandboxResult
from transferlab.sandbox.watch import Watch, kill_uid

log = logging.getLogger(__name__)
_UID_BASE = 1_900_000_000  # sandbox uids (root mode): far above any real or subordinate uid
_uid_counter = itertools.count()
_lock = threading.Lock()  # the availability check
_cgroup_lock = threading.Lock()  # finding the machine's cgroups
_available = False
_cgroups: Cgroups | None = None
_warned: set[str] = set()


def run_python(source: str, *, stdin: str = "", limits: SandboxLimits = DEFAULT_LIMITS) -> SandboxResult:
    """Run ``source`` as a Python program in the sandbox and report the outcome."""
    check_available()
    return run_one(source, stdin, limits)


def run_many(
    sources: Sequence[str],
    *,
    stdins: Sequence[str] | None = None,
    limits: SandboxLimits = DEFAULT_LIMITS,
    workers: int | None = None,
) -> list[SandboxResult]:
    """Run several programs in parallel (one per core by default); results in input order."""
    if stdins is not None and len(stdins) != len(sources):
        raise ValueError("stdins must have one entry per source")
    check_available()
    inputs = list(stdins) if stdins is not None else [""] * len(sources)
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        return list(pool.map(lambda src, given: run_one(src, given, limits), sources, inputs))


def default_workers() -> int:
    """One sandbox per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_available() -> None:
    """Raise :class:`TransferlabError` unless a sandbox can start here (checked once)."""
    global _available
    if _available:
        return
    with _lock:
        if _available:
            return
        _require_tools()
        seccomp.build()  # raises when libseccomp or its binding is missing
        probe = run_one("print('sandbox-ok')", "", SandboxLimits(timeout_s=30))
        if probe.status != "ok" or probe.stdout.strip() != "sandbox-ok":
            reason = (probe.stderr_tail.strip().splitlines() or [probe.detail])[-1]
            raise TransferlabError(
                f"bubblewrap cannot start a sandbox here ({reason})",
                "allow user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root; in a container, allow the unshare and mount system calls",
            )
        _available = True


def _require_tools() -> None:
    if not sys.platform.startswith("linux"):
        raise TransferlabError("the code sandbox needs Linux (bubblewrap)", "run code grading on a Linux machine")
    if shutil.which("bwrap") is None:
        raise TransferlabError("bubblewrap (bwrap) is not installed", "install it with: apt-get install bubblewrap")
    for tool in ("setpriv", "prlimit") if os.geteuid() == 0 else ("prlimit",):
        if shutil.which(tool) is None:
            raise TransferlabError(f"{tool} is not installed", "install it with: apt-get install util-linux")


def machine_cgroups() -> Cgroups:
    """This machine's cgroups for runs, found and set up once per process."""
    global _cgroups
    if _cgroups is None:
        with _cgroup_lock:
            if _cgroups is None:
                try:
                    with open("/proc/self/mountinfo") as file:
                        hierarchies = find_hierarchies(file.read())
                except OSError as err:
                    why = f"cannot read /proc/self/mountinfo ({err})"
                    _cgroups = Cgroups(problems={"memory": why, "pids": why})
                else:
                    _cgroups = setup(hierarchies)
    return _cgroups


def run_one(source: str, stdin: str, limits: SandboxLimits, cgroups: Cgroups | None = None) -> SandboxResult:
    """Run one program (no availability check): the machine's cgroups unless given."""
    groups = machine_cgroups() if cgroups is None else cgroups
    uid = _fresh_uid() if os.geteuid() == 0 else None
    run = _run_cgroup(groups, limits)
    fds: list[int] = []
    try:
        fds.append(_memfd(source.encode("utf-8", "surrogateescape")))
        fds.append(seccomp.program_fd())
        cmd = bwrap.command(limits, fds[0], fds[1], uid)
        if run is not None:
            cmd = launcher(run.procs_files) + cmd
        by_kernel = run is not None and groups.memory_version is not None
        counted_by = f"cgroup v{groups.memory_version}" if by_kernel else "sampled"
        watch = Watch(limits, run, memory_by_kernel=by_kernel, counted_by=counted_by)
        return watch.run(cmd, stdin.encode("utf-8", "surrogateescape"), fds)
    finally:
        for fd in fds:
            os.close(fd)
        if run is not None and not run.remove():
            _warn_once("remove", f"could not remove the run cgroups {sorted(map(str, run.dirs))}")
        if uid is not None and run is None:
            kill_uid(uid)


def _run_cgroup(groups: Cgroups, limits: SandboxLimits) -> RunCgroup | None:
    missing = [c for c in ("memory", "pids") if c not in groups.bases]
    if missing:
        _warn_once(
            "no-cgroup",
            f"the code sandbox has no {' or '.join(missing)} cgroup here"
            f" ({groups.problem or 'none was set up'});"
            " programs still run under the seccomp filter and the per-process limits (address"
            " space, processes, CPU, files), with their memory sampled by the parent rather than"
            " counted by the kernel. Run as root, or delegate a cgroup and name it in"
            " TRANSFERLAB_SANDBOX_CGROUP (docs/sandbox.md); `transferlab sandbox check` shows"
            " what this machine gives",
        )
    if not groups.bases:
        return None
    try:
        return groups.create(limits.memory_mb * 2**20, limits.max_processes + OWN_TASKS)
    except OSError as err:
        _warn_once("create", f"could not make a run cgroup ({err}); this run has none")
        return None


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("transferlab sandbox: %s", message)


def _memfd(data: bytes) -> int:
    """An in-memory file holding ``data``, read from its start (bwrap copies it in)."""
    fd = os.memfd_create("transferlab-program", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _fresh_uid() -> int:
    return _UID_BASE + (os.getpid() % 10_000) * 10_000 + next(_uid_counter) % 10_000
