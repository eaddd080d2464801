"""Drive one bwrap process: feed its stdin, read its output with a cap, keep the clock, and say
what happened (:class:`Watch`).

The program's standard input is the read end of a pipe that the parent fills; its output goes to
pipes the parent reads. Nothing else is inherited, and nothing the program writes is bookkeeping:
the peak memory comes from the run's cgroup (the kernel's count) or, where there is none, from the
parent's own samples of the sandbox's processes in ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence

from transferlab.sandbox.bwrap import cpu_seconds
from transferlab.sandbox.cgroups import RunCgroup
from transferlab.sandbox.limits import SandboxLimits, SandboxResult

SAMPLE_EVERY_S = 0.1  # the parent's memory samples where no cgroup counts the memory
DRAIN_S = 2.0  # after a kill, how long output still left in the pipes is read
_STARTUP_PREFIXES = ("bwrap:", "setpriv:", "prlimit:", "transferlab-sandbox:")


class Watch:
    """Run one sandbox command to its end and report the outcome."""

    def __init__(self, limits: SandboxLimits, cgroup: RunCgroup | None, *, memory_by_kernel: bool, counted_by: str) -> None:
        self.limits, self.cgroup = limits, cgroup
        self.memory_by_kernel = memory_by_kernel  # the cgroup holds the memory limit
        self.counted_by = counted_by
        self.out, self.err = bytearray(), bytearray()
        self.out_total = self.err_total = 0
        self.reason: str | None = None  # "timeout" | "output_limit" | "memory" when we kill
        self.peak_rss = 0

    def run(self, cmd: Sequence[str], stdin: bytes, pass_fds: Sequence[int]) -> SandboxResult:
        """Start ``cmd`` (its own session; only 0, 1, 2 and ``pass_fds`` inherited), feed it
        ``stdin`` and watch it to the end."""
        stdin_r, stdin_w = os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(cmd),
                stdin=stdin_r,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(pass_fds),
                start_new_session=True,
                close_fds=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
        except BaseException:
            os.close(stdin_w)
            raise
        finally:
            os.close(stdin_r)
        feed = _Feed(stdin_w, stdin)
        try:
            self._pump(proc, start, feed)
        finally:
            feed.close()
            _kill_group(proc.pid)
            _, status = os.waitpid(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        elapsed = time.monotonic() - start
        peak = self.cgroup.peak_bytes() if self.cgroup is not None else None
        oom = self.cgroup.oom_kills() if self.cgroup is not None else 0
        counted_by = self.counted_by if peak is not None else "sampled"
        peak_mb = (peak if peak is not None else self.peak_rss) / 2**20
        return self._result(proc.returncode, elapsed, peak_mb, oom, counted_by)

    def _pump(self, proc: subprocess.Popen[bytes], start: float, feed: _Feed) -> None:
        deadline = start + self.limits.timeout_s
        sel = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
        if feed.fd is not None:
            sel.register(feed.fd, selectors.EVENT_WRITE, "in")
        sample = self.cgroup is None or self.cgroup.peak_bytes() is None
        next_sample, killed_at = start, None
        while sel.get_map():
            now = time.monotonic()
            if self.reason is None and now >= deadline:
                self._stop(proc, "timeout")
            if self.reason is not None:  # killed: drain what is left, briefly
                killed_at = killed_at or now
                if now > killed_at + DRAIN_S:
                    break
            if sample and self.reason is None and now >= next_sample:
                next_sample = now + SAMPLE_EVERY_S
                self._sample(proc)
            for key, _ in sel.select(timeout=0.05):
                if key.data == "in":
                    if not feed.write():
                        sel.unregister(key.fileobj)
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                self._take(key.data, chunk, proc)
        sel.close()

    def _sample(self, proc: subprocess.Popen[bytes]) -> None:
        rss = tree_rss(proc.pid)
        self.peak_rss = max(self.peak_rss, rss)
        if not self.memory_by_kernel and rss > self.limits.memory_mb * 2**20:
            self._stop(proc, "memory")

    def _take(self, stream: str, chunk: bytes, proc: subprocess.Popen[bytes]) -> None:
        cap = self.limits.max_output_bytes
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

    def _stop(self, proc: subprocess.Popen[bytes], reason: str) -> None:
        self.reason = reason
        _kill_group(proc.pid)
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def _result(self, code: int, elapsed: float, peak_mb: float, oom: int, counted_by: str) -> SandboxResult:
        out = self.out.decode("utf-8", "replace")
        err = self.err.decode("utf-8", "replace")
        tail = self.limits.tail_chars
        status, detail = self._classify(code, err, elapsed, oom)
        stopped = self.reason is not None or (oom > 0 and code != 0)  # no exit of its own
        exit_code = None if stopped else (code if code >= 0 else 128 - code)
        return SandboxResult(
            status=status,
            exit_code=exit_code,
            stdout=out,
            stdout_tail=out[-tail:],
            stderr_tail=err[-tail:],
            time_s=round(elapsed, 4),
            peak_memory_mb=round(peak_mb, 2),
            detail=detail,
            memory_counted_by=counted_by,
        )

    def _classify(self, code: int, err: str, elapsed: float, oom: int) -> tuple[str, str]:
        lim = self.limits
        if oom and code != 0:  # the kernel stopped it at the memory limit, whatever came after
            return "memory", (f"used more than {lim.memory_mb} MB of memory in total (the kernel's count; {oom} process(es) killed at the limit)")
        if self.reason == "timeout":
            return "timeout", f"ran past the {lim.timeout_s:g} s wall-clock limit"
        if self.reason == "output_limit":
            return "output_limit", f"wrote more than {lim.max_output_bytes} bytes of output"
        if self.reason == "memory":
            return "memory", f"used more than {lim.memory_mb} MB of memory in total (sampled)"
        if code == 0:
            return "ok", ""
        last = (err.strip().splitlines() or [""])[-1]
        if code in (1, 125, 126, 127) and last.startswith(_STARTUP_PREFIXES):
            return "error", f"the sandbox did not start: {last}"
        signum = code - 128 if code > 128 else -code if code < 0 else 0
        cpu_limit = cpu_seconds(lim)
        # SIGXCPU at the soft limit; SIGKILL at the hard one (a second later), which no process
        # reaches in less wall-clock time (the kernel does not pass on the sandbox's CPU times).
        if signum == signal.SIGXCPU or (signum == signal.SIGKILL and elapsed >= cpu_limit + 1):
            return "timeout", f"ran past the {cpu_limit:g} s CPU-time limit"
        if last.startswith("MemoryError") or "Cannot allocate memory" in last:
            return "memory", f"ran out of its {lim.memory_mb} MB of memory"
        if signum > 0:
            return "killed", f"killed by signal {_signal_name(signum)}"
        return "failed", f"exited with status {code}" + (f": {last}" if last else "")


class _Feed:
    """The write end of the program's stdin pipe, filled as the program reads."""

    def __init__(self, fd: int, data: bytes) -> None:
        self.fd: int | None = fd
        self.view, self.pos = memoryview(data), 0
        os.set_blocking(fd, False)
        if not data:
            self.close()

    def write(self) -> bool:
        """Write what the pipe takes now; False once all is written or the reader is gone."""
        if self.fd is None:
            return False
        try:
            self.pos += os.write(self.fd, self.view[self.pos : self.pos + 65536])
        except BlockingIOError:
            return True
        except OSError:  # BrokenPipeError: the program closed its stdin or ended
            self.close()
            return False
        if self.pos >= len(self.view):
            self.close()
            return False
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process in ``/proc``."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{name}/stat", "rb") as file:
                found[int(name)] = int(file.read().rpartition(b")")[2].split()[1])
    return found


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (daemons in a sandbox end up under its pid 1)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total, page = 0, os.sysconf("SC_PAGE_SIZE")
    for member in descendants(pid):
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{member}/statm") as file:
            total += int(file.read().split()[1]) * page
    return total


def kill_uid(uid: int) -> None:
    """SIGKILL every process ``uid`` owns (belt and braces for a run without a cgroup)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{name}").st_uid == uid:
                    os.kill(int(name), signal.SIGKILL)
