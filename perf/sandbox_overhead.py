"""Per-run cost of the sandbox's layers: the run's cgroup, the seccomp filter, the launcher.

Run from the repository root (as root, where the cgroups can be made):

    .venv/bin/python perf/sandbox_overhead.py [--runs 100]

Prints, in milliseconds per run: making and removing a run cgroup (no process in it), writing the
seccomp filter to a pipe, and a whole sandboxed ``pass`` run in three settings, one after another
(one at a time): with the cgroup (the default here), without a cgroup (the fallback: the parent
samples the memory), and the sandbox as it was before the cgroup and the filter, when given
``--old PATH`` (a copy of the old ``scoring/sandbox.py``, e.g. from ``git show``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from transferlab.sandbox import SandboxLimits, runner, seccomp
from transferlab.sandbox.cgroups import OWN_TASKS, Cgroups

LIMITS = SandboxLimits(timeout_s=10)


def per_call_ms(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median and mean milliseconds of ``fn()`` over ``runs`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.fmean(times)


def cgroup_cycle(groups: Cgroups) -> None:
    run = groups.create(LIMITS.memory_mb * 2**20, LIMITS.max_processes + OWN_TASKS)
    assert run.remove()


def pipe_cycle() -> None:
    os.close(seccomp.program_fd())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--old", default=None, help="path of the old sandbox module to compare")
    args = parser.parse_args()
    runner.check_available()
    groups = runner.machine_cgroups()
    rows: list[tuple[str, tuple[float, float]]] = []
    if groups.bases:
        versions = sorted({f"v{h.version}" for h, _ in groups.bases.values()})
        rows.append((f"cgroup create+remove ({', '.join(versions)}, no process)", per_call_ms(lambda: cgroup_cycle(groups), args.runs)))
    rows.append(("seccomp filter into a pipe", per_call_ms(pipe_cycle, args.runs)))
    rows.append(
        (
            "sandboxed run of `pass`, with the run's cgroup" if groups.bases else "sandboxed run of `pass` (no cgroup on this machine)",
            per_call_ms(lambda: runner.run_one("pass", "", LIMITS), args.runs),
        )
    )
    rows.append(("sandboxed run of `pass`, no cgroup (fallback)", per_call_ms(lambda: runner.run_one("pass", "", LIMITS, cgroups=Cgroups()), args.runs)))
    if args.old:
        spec = importlib.util.spec_from_file_location("old_sandbox", args.old)
        assert spec is not None and spec.loader is not None
        old = importlib.util.module_from_spec(spec)
        sys.modules["old_sandbox"] = old
        spec.loader.exec_module(old)
        old_limits = old.SandboxLimits(timeout_s=10)
        rows.append(("sandboxed run of `pass`, the old sandbox", per_call_ms(lambda: old.run_python("pass", limits=old_limits), args.runs)))
    load = os.getloadavg()[0]
    print(f"{args.runs} runs each, one at a time; load average {load:.1f} at the end", file=sys.stderr)
    print("| step | median ms | mean ms |\n|---|---:|---:|")
    for name, (median, mean) in rows:
        print(f"| {name} | {median:.2f} | {mean:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
