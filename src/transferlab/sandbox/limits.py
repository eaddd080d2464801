"""What a sandboxed program may use (:class:`SandboxLimits`) and what happened to it
(:class:`SandboxResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

STATUSES = ("ok", "failed", "timeout", "memory", "output_limit", "killed", "error")


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed program may use."""

    timeout_s: float = 10.0  # wall clock, then the whole sandbox is killed
    cpu_s: float | None = None  # CPU seconds (RLIMIT_CPU); None: the wall-clock timeout
    # MB: the whole sandbox's memory as the kernel counts it (RAM and swap, tmpfs, shared memory
    # and memfd pages: the run's cgroup), and the address space of each process (RLIMIT_AS)
    memory_mb: int = 1024
    max_processes: int = 16  # processes and threads together (RLIMIT_NPROC and the pids cgroup)
    max_output_bytes: int = 8 * 2**20  # stdout or stderr beyond this kills the program
    max_file_mb: int = 64  # size of the writable tmpfs and of any one file (RLIMIT_FSIZE)
    max_open_files: int = 64
    tail_chars: int = 2000  # how much of the end of stdout and stderr a result keeps


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program. ``status`` is one of :data:`STATUSES`."""

    status: str
    exit_code: int | None
    stdout: str  # everything written to stdout, up to ``max_output_bytes``
    stdout_tail: str
    stderr_tail: str
    time_s: float
    peak_memory_mb: float  # the run's peak as ``memory_counted_by`` says
    detail: str = ""  # why, in words, when the status is not "ok"
    # "cgroup v1" or "cgroup v2": the kernel's peak for the whole sandbox; "sampled": the
    # largest total resident memory seen by the parent's 0.1 s samples (no cgroup here)
    memory_counted_by: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


DEFAULT_LIMITS = SandboxLimits()
