"""The code sandbox: model-written Python run where it can harm nothing and is measured by the
kernel.

    result = run_python("print(sum(range(10)))", limits=SandboxLimits(timeout_s=5))
    for line in check():  # what this machine gives, one protection a line
        print(line.render())

The layers (docs/sandbox.md has the threat model): bubblewrap namespaces and a read-only view of
the interpreter (:mod:`.bwrap`), a seccomp filter that refuses namespaces, mounts and kernel
interfaces (:mod:`.seccomp`), a cgroup per run for memory and tasks (:mod:`.cgroups`), per-process
rlimits, a wall clock and an output cap (:mod:`.watch`).
"""

from transferlab.sandbox.check import Protection, check
from transferlab.sandbox.limits import STATUSES, SandboxLimits, SandboxResult
from transferlab.sandbox.runner import (
    check_available,
    default_workers,
    run_many,
    run_python,
)

__all__ = [
    "STATUSES",
    "Protection",
    "SandboxLimits",
    "SandboxResult",
    "check",
    "check_available",
    "default_workers",
    "run_many",
    "run_python",
]
