"""Run model-written Python in a bubblewrap sandbox.

    result = run_python("print(sum(range(10)))", limits=SandboxLimits(timeout_s=5))

Every program runs in fresh pid, network, IPC and UTS namespaces and a fresh mount namespace that
holds only read-only binds of what the interpreter needs (``/usr``, ``/lib*``, the interpreter's
prefix, ``/etc/ld.so.cache``), a fresh ``/proc`` and ``/dev``, and one small tmpfs at ``/tmp`` that
is the only writable place and the working directory. The environment is cleared. Limits come from
``prlimit`` (address space, processes, CPU seconds, file size, open files); a wall clock, an output
cap and (as root) a memory watchdog kill the whole sandbox; when its pid 1 dies the kernel kills
every process left in it, so nothing outlives a run.

Run as root, bwrap builds the sandbox without a user namespace and ``setpriv`` drops the program
to a fresh unprivileged uid with no capabilities: the process limit counts per uid and the kernel
ignores it for root. Run as another user, bwrap maps that user into a user namespace instead.
Where bwrap cannot start, :func:`check_available` raises :class:`TransferlabError`; code is never
run outside the sandbox.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import selectors
import shutil
import signal
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from transferlab.errors import TransferlabError

STATUSES = ("ok", "failed", "timeout", "memory", "output_limit", "killed", "error")
_WORKDIR = "/tmp"
_PROGRAM = "/tmp/main.py"
_UID_BASE = 1_900_000_000  # sandbox uids (root mode): far above any real or subordinate uid
_uid_counter = itertools.count()
_available_lock = threading.Lock()
_available = False


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed program may use."""

    timeout_s: float = 10.0  # wall clock, then the whole sandbox is killed
    cpu_s: float | None = None  # CPU seconds (RLIMIT_CPU); None: the wall-clock timeout
    memory_mb: int = 1024  # address space per process; total resident memory (as root)
    max_processes: int = 16  # processes and threads together (RLIMIT_NPROC)
    max_output_bytes: int = 8 * 2**20  # stdout or stderr beyond this kills the program
    max_file_mb: int = 64  # size of the writable tmpfs and of any one file in it
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
    peak_memory_mb: float
    detail: str = ""  # why, in words, when the status is not "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run_python(
    source: str, *, stdin: str = "", limits: SandboxLimits = SandboxLimits()
) -> SandboxResult:
    """Run ``source`` as a Python program in the sandbox and report the outcome."""
    check_available()
    return _run(source, stdin, limits)


def run_many(
    sources: Sequence[str],
    *,
    stdins: Sequence[str] | None = None,
    limits: SandboxLimits = SandboxLimits(),
    workers: int | None = None,
) -> list[SandboxResult]:
    """Run several programs in parallel (one per core by default); results in input order."""
    if stdins is not None and len(stdins) != len(sources):
        raise ValueError("stdins must have one entry per source")
    check_available()
    inputs = list(stdins) if stdins is not None else [""] * len(sources)
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        return list(pool.map(lambda source, stdin: _run(source, stdin, limits), sources, inputs))


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
    with _available_lock:
        if _available:
            return
        if not sys.platform.startswith("linux"):
            raise TransferlabError(
                "the code sandbox needs Linux (bubblewrap)", "run code grading on a Linux machine"
            )
        if shutil.which("bwrap") is None:
            raise TransferlabError(
                "bubblewrap (bwrap) is not installed",
                "install it with: apt-get install bubblewrap",
            )
        for tool in ("setpriv", "prlimit") if os.geteuid() == 0 else ("prlimit",):
            if shutil.which(tool) is None:
                raise TransferlabError(
                    f"{tool} is not installed", "install it with: apt-get install util-linux"
                )
        probe = _run("print('sandbox-ok')", "", SandboxLimits(timeout_s=30))
        if probe.status != "ok" or probe.stdout.strip() != "sandbox-ok":
            reason = (probe.stderr_tail.strip().splitlines() or [probe.detail])[-1]
            raise TransferlabError(
                f"bubblewrap cannot start a sandbox here ({reason})",
                "allow user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root;"
                " in a container, allow the unshare and mount system calls",
            )
        _available = True


# --- building the command ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _interpreter() -> tuple[str, list[str]]:
    """The real interpreter binary behind ``sys.executable`` and the prefixes it needs."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    exe = os.path.realpath(base)
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(exe)))
    needed = sorted(r for r in roots if r != "/" and not _under(r, "/usr"))
    return exe, [r for r in needed if not any(_under(r, o) and r != o for o in needed)]


@functools.lru_cache(maxsize=1)
def _site_packages() -> list[str]:
    bases = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    found = {os.path.realpath(sysconfig.get_path(k, vars=bases)) for k in ("purelib", "platlib")}
    return sorted(p for p in found if os.path.isdir(p))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _mount_args(limits: SandboxLimits, program_fd: int) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", etc, etc]
    made: set[str] = set()
    for prefix in _interpreter()[1]:
        parts = prefix.strip("/").split("/")
        for depth in range(1, len(parts)):  # bwrap would make the parents 0700
            parent = "/" + "/".join(parts[:depth])
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", prefix, prefix]
    for packages in _site_packages():  # installed packages are not the interpreter's business
        args += ["--tmpfs", packages, "--remount-ro", packages]
    size = limits.max_file_mb * 2**20
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(size), "--perms", "1777", "--tmpfs", _WORKDIR]
    args += ["--perms", "0444", "--ro-bind-data", str(program_fd), _PROGRAM]
    return args


def _limit_args(limits: SandboxLimits) -> list[str]:
    cpu = _cpu_seconds(limits)
    return [
        "prlimit",
        f"--as={limits.memory_mb * 2**20}",
        f"--nproc={limits.max_processes}",
        f"--cpu={cpu}:{cpu + 1}",
        f"--fsize={limits.max_file_mb * 2**20}",
        f"--nofile={limits.max_open_files}",
        "--core=0",
        "--",
    ]


def _cpu_seconds(limits: SandboxLimits) -> int:
    return max(1, math.ceil(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s))


def _command(limits: SandboxLimits, program_fd: int, report_fd: int, uid: int | None) -> list[str]:
    exe = _interpreter()[0]
    cmd = [shutil.which("bwrap") or "bwrap"]
    cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if uid is None:  # an ordinary user: a user namespace maps them to nobody inside
        cmd += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    cmd += _mount_args(limits, program_fd)
    cmd += ["--chdir", _WORKDIR, "--clearenv"]
    for key, value in (("PATH", "/usr/bin:/bin"), ("HOME", _WORKDIR), ("TMPDIR", _WORKDIR),
                       ("LANG", "C.UTF-8")):
        cmd += ["--setenv", key, value]
    if uid is not None:  # root: drop to a fresh uid, no capabilities, no way back
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv"]
        cmd += ["--reuid", str(uid), "--regid", str(uid), "--clear-groups"]
        cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    cmd += ["--", *_limit_args(limits), exe, "-I", "-S", "-B", "-c", _bootstrap(report_fd)]
    return cmd


def _bootstrap(report_fd: int) -> str:
    """Python runs without site (-S: no site-packages or .pth files, a fast start). This adds the
    two names from site that programs use (exit, quit), reports peak memory at exit on
    ``report_fd``, and runs the program as __main__ under its own file name."""
    return (
        "import atexit, builtins, os, resource, sys, __main__\n"
        "builtins.exit = builtins.quit = sys.exit\n"
        "def _report(fd={fd}, r=resource, write=os.write):\n"
        "    try:\n"
        "        peak = max(r.getrusage(r.RUSAGE_SELF).ru_maxrss,"
        " r.getrusage(r.RUSAGE_CHILDREN).ru_maxrss)\n"
        "        write(fd, b'%d\\n' % peak)\n"
        "    except BaseException:\n"
        "        pass\n"
        "atexit.register(_report)\n"
        "sys.argv[:] = [{path!r}]\n"
        "__main__.__file__ = {path!r}\n"
        "with open({path!r}, 'rb') as _f:\n"
        "    _code = compile(_f.read(), {path!r}, 'exec', dont_inherit=True)\n"
        "del _f, _report, atexit, builtins, resource, __main__\n"
        "exec(_code)\n"
    ).format(fd=report_fd, path=_PROGRAM)


def _fresh_uid() -> int:
    return _UID_BASE + (os.getpid() % 10_000) * 10_000 + next(_uid_counter) % 10_000


# --- running ----------------------------------------------------------------------------------


def _run(source: str, stdin: str, limits: SandboxLimits) -> SandboxResult:
    uid = _fresh_uid() if os.geteuid() == 0 else None
    with tempfile.TemporaryFile() as program, tempfile.TemporaryFile() as stdin_file:
        for file, text in ((program, source), (stdin_file, stdin)):
            file.write(text.encode("utf-8", "surrogateescape"))
            file.flush()
            file.seek(0)
        return _Watch(limits, uid).run(stdin_file, program.fileno())


class _Watch:
    """Drive one bwrap process: read its output with a cap, enforce the clock and memory."""

    def __init__(self, limits: SandboxLimits, uid: int | None) -> None:
        self.limits, self.uid = limits, uid
        self.out, self.err, self.mem = bytearray(), bytearray(), bytearray()
        self.out_total = self.err_total = 0
        self.reason: str | None = None  # "timeout" | "output_limit" | "memory" when we kill
        self.peak_rss = 0

    def run(self, stdin_file, program_fd: int) -> SandboxResult:
        import subprocess

        report_r, report_w = os.pipe()
        cmd = _command(self.limits, program_fd, report_w, self.uid)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd, stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(program_fd, report_w), start_new_session=True, close_fds=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
        finally:
            os.close(report_w)
        try:
            with open(report_r, "rb", buffering=0) as report:
                self._pump(proc, start, report)
        finally:
            _kill_group(proc.pid)
            _, status = os.waitpid(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            proc.stdout.close()
            proc.stderr.close()
            if self.uid is not None:
                _kill_uid(self.uid)
        elapsed = time.monotonic() - start
        # Not the rusage of bwrap itself: a spawned child's maxrss starts at its parent's.
        reported = max((int(x) for x in self.mem.split() if x.isdigit()), default=0) * 1024
        peak = max(reported, self.peak_rss) / 2**20
        return self._result(proc.returncode, elapsed, peak)

    def _pump(self, proc, start: float, report) -> None:
        deadline = start + self.limits.timeout_s
        sel = selectors.DefaultSelector()
        sel.register(report, selectors.EVENT_READ, "mem")
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
        next_check, killed_at = start + 0.1, None
        while sel.get_map():
            now = time.monotonic()
            if self.reason is None and now >= deadline:
                self._stop(proc, "timeout")
            if self.reason is not None:  # killed: drain what is left, briefly
                killed_at = killed_at or now
                if now > killed_at + 2.0:
                    break
            if self.uid is not None and self.reason is None and now >= next_check:
                next_check = now + 0.2
                rss = _uid_rss(self.uid)
                self.peak_rss = max(self.peak_rss, rss)
                if rss > self.limits.memory_mb * 2**20:
                    self._stop(proc, "memory")
            for key, _ in sel.select(timeout=0.05):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                self._take(key.data, chunk, proc)
        sel.close()

    def _take(self, stream: str, chunk: bytes, proc) -> None:
        cap = self.limits.max_output_bytes
        if stream == "mem":
            self.mem += chunk[: max(0, 256 - len(self.mem))]
            return
        if stream == "out":
            self.out_total += len(chunk)
            self.out += chunk[: max(0, cap - len(self.out))]
            total = self.out_total
        else:
            self.err_total += len(chunk)
            self.err += chunk
            del self.err[: max(0, len(self.err) - 65536)]  # keep a rolling tail only
            total = self.err_total
        if total > cap and self.reason is None:
            self._stop(proc, "output_limit")

    def _stop(self, proc, reason: str) -> None:
        self.reason = reason
        _kill_group(proc.pid)

    def _result(self, code: int, elapsed: float, peak_mb: float) -> SandboxResult:
        out = self.out.decode("utf-8", "replace")
        err = self.err.decode("utf-8", "replace")
        tail = self.limits.tail_chars
        status, detail = self._classify(code, err, elapsed)
        exit_code = None if self.reason is not None else (code if code >= 0 else 128 - code)
        return SandboxResult(
            status=status, exit_code=exit_code, stdout=out, stdout_tail=out[-tail:],
            stderr_tail=err[-tail:], time_s=round(elapsed, 4),
            peak_memory_mb=round(peak_mb, 2), detail=detail,
        )

    def _classify(self, code: int, err: str, elapsed: float) -> tuple[str, str]:
        lim = self.limits
        if self.reason == "timeout":
            return "timeout", f"ran past the {lim.timeout_s:g} s wall-clock limit"
        if self.reason == "output_limit":
            return "output_limit", f"wrote more than {lim.max_output_bytes} bytes of output"
        if self.reason == "memory":
            return "memory", f"used more than {lim.memory_mb} MB of memory in total"
        if code == 0:
            return "ok", ""
        last = (err.strip().splitlines() or [""])[-1]
        if code in (1, 126, 127) and last.startswith(("bwrap:", "setpriv:", "prlimit:")):
            return "error", f"the sandbox did not start: {last}"
        signum = code - 128 if code > 128 else -code if code < 0 else 0
        cpu_limit = _cpu_seconds(lim)
        # SIGXCPU at the soft limit; SIGKILL at the hard one (a second later), which no process
        # reaches in less wall-clock time (the kernel does not pass on the sandbox's CPU times).
        if signum == signal.SIGXCPU or (signum == signal.SIGKILL and elapsed >= cpu_limit + 1):
            return "timeout", f"ran past the {cpu_limit:g} s CPU-time limit"
        if last.startswith("MemoryError") or "Cannot allocate memory" in last:
            return "memory", f"ran out of its {lim.memory_mb} MB address space"
        if signum > 0:
            return "killed", f"killed by signal {_signal_name(signum)}"
        return "failed", f"exited with status {code}" + (f": {last}" if last else "")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _uid_pids(uid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def _uid_rss(uid: int) -> int:
    """Resident bytes of every process the sandbox uid owns."""
    total, page = 0, os.sysconf("SC_PAGE_SIZE")
    for pid in _uid_pids(uid):
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
    return total


def _kill_uid(uid: int) -> None:
    """Belt and braces: the pid namespace already took everything with it."""
    for pid in _uid_pids(uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
