"""What the sandbox gives on this machine, one protection a line (``transferlab sandbox check``).

Each line comes from a real run where it can: a probe program runs in the sandbox exactly as graded
code does and tries what a hostile program would (a user namespace, a mount, clone3, the network,
writing everywhere, writing to its stdin), and the lines say what the kernel answered.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from transferlab.sandbox import bwrap, runner, seccomp
from transferlab.sandbox.cgroups import OWN_TASKS, Cgroups
from transferlab.sandbox.limits import DEFAULT_LIMITS, SandboxLimits


@dataclass(frozen=True)
class Protection:
    """One protection: whether it holds here, and how."""

    name: str
    state: str  # a word or two: "refused", "active", "v1", "none", ...
    held: bool  # False: missing or weaker than it should be
    detail: str

    def render(self) -> str:
        mark = "ok " if self.held else "NO "
        return f"{mark} {self.name:<18} {self.state:<10} {self.detail}"


def check(limits: SandboxLimits = DEFAULT_LIMITS) -> list[Protection]:
    """Every protection on this machine; a probe program is run in the sandbox to test them.
    Raises :class:`TransferlabError` where no sandbox can start at all."""
    runner.check_available()
    flt = seccomp.build()
    groups = runner.machine_cgroups()
    result = runner.run_one(_PROBE, "probe-input", limits)
    try:
        probe: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        detail = f"the probe program failed: {result.status} {result.detail}"
        return [Protection("sandbox", "error", False, detail)]
    return [
        _sandbox_line(probe),
        _userns_line(probe),
        Protection("seccomp filter", "active" if probe["seccomp"] == 2 else "none", probe["seccomp"] == 2, flt.describe()),
        _memory_line(groups, limits, result.memory_counted_by, result.peak_memory_mb),
        _pids_line(groups, limits),
        _network_line(probe),
        _writable_line(probe, limits),
        _descriptor_line(probe),
    ]


def _sandbox_line(probe: dict[str, Any]) -> Protection:
    if os.geteuid() == 0:
        how = f"as root: a fresh unprivileged uid per run ({probe['uid']} in the probe)"
    else:
        how = f"as uid {os.geteuid()}: nobody in a user namespace"
    caps = "no capabilities" if probe["cap_eff"] == 0 else f"CapEff {probe['cap_eff']:#x}"
    held = probe["cap_eff"] == 0 and probe["no_new_privs"] == 1
    return Protection(
        "sandbox", "bubblewrap", held, f"{how}, {caps}, no_new_privs {probe['no_new_privs']}; pid, net, ipc, uts, mount and cgroup namespaces of its own"
    )


def _userns_line(probe: dict[str, Any]) -> Protection:
    answers = probe["namespaces"]
    refused = all(answers[k] == "EPERM" for k in ("unshare", "clone", "mount", "setns"))
    refused = refused and answers["clone3"] == "ENOSYS"
    how = "seccomp filter"
    if os.geteuid() != 0 and bwrap.disables_userns():
        how += " and bwrap --disable-userns"
    elif os.geteuid() != 0:
        how += " (this bwrap has no --disable-userns: 0.8.0 or later adds it)"
    told = ", ".join(f"{k} {v}" for k, v in answers.items())
    return Protection("user namespaces", "refused" if refused else "ALLOWED", refused, f"{how}; the probe got: {told}")


def _memory_line(groups: Cgroups, limits: SandboxLimits, counted_by: str, peak_mb: float) -> Protection:
    if "memory" not in groups.bases:
        return Protection(
            "cgroup memory",
            "none",
            False,
            f"{groups.problems.get('memory', '')}; memory is sampled by the parent every 0.1 s and each"
            f" process's address space is capped at {limits.memory_mb} MB",
        )
    hierarchy, base = groups.bases["memory"]
    if groups.swap_counted():
        swap = "swap counted in the limit"
    elif hierarchy.version == 1:
        swap = "memory.memsw.* missing: swap is off or not accounted (swapaccount=0), the limit covers RAM only"
    else:
        swap = "memory.swap.max missing: swap is not accounted, the limit covers RAM only"
    swaps = _swap_devices()
    swap += "; no swap on this machine" if swaps == 0 else f"; {swaps} swap device(s)"
    held = counted_by.startswith("cgroup")
    return Protection(
        "cgroup memory", f"v{hierarchy.version}", held, f"{limits.memory_mb} MB per run under {base}, {swap}; the probe's peak {peak_mb:.1f} MB ({counted_by})"
    )


def _pids_line(groups: Cgroups, limits: SandboxLimits) -> Protection:
    if "pids" not in groups.bases:
        return Protection("cgroup pids", "none", False, f"{groups.problems.get('pids', '')}; RLIMIT_NPROC ({limits.max_processes}) alone")
    hierarchy, base = groups.bases["pids"]
    return Protection(
        "cgroup pids",
        f"v{hierarchy.version}",
        True,
        f"{limits.max_processes + OWN_TASKS} tasks per run under {base}"
        f" ({limits.max_processes} for the program, {OWN_TASKS} for bwrap), and"
        f" RLIMIT_NPROC {limits.max_processes}",
    )


def _network_line(probe: dict[str, Any]) -> Protection:
    interfaces, outside = probe["interfaces"], probe["connect"]
    held = interfaces == ["lo"] and outside != "connected"
    return Protection("network", "none" if held else "REACHABLE", held, f"own network namespace, interfaces {interfaces}; connecting out: {outside}")


def _writable_line(probe: dict[str, Any], limits: SandboxLimits) -> Protection:
    writable = probe["writable"]
    held = writable == [bwrap.WORKDIR]
    return Protection(
        "writable paths",
        " ".join(writable) or "none",
        held,
        f"a private tmpfs of {limits.max_file_mb} MB, files up to"
        f" {limits.max_file_mb} MB; everything else read-only or absent (tried"
        f" every mount point: {len(probe['mounts'])})",
    )


def _descriptor_line(probe: dict[str, Any]) -> Protection:
    fds, stdin = probe["fds"], probe["stdin"]
    held = fds == [0, 1, 2] and stdin["write"] == "EBADF" and stdin["mode"] == "O_RDONLY"
    return Protection(
        "descriptors",
        "0 1 2" if fds == [0, 1, 2] else " ".join(map(str, fds)),
        held,
        f"nothing else inherited; stdin is a pipe's read end ({stdin['mode']}, writing to it: {stdin['write']}); the peak comes from the cgroup or the parent",
    )


def _swap_devices() -> int:
    try:
        with open("/proc/swaps") as file:
            return max(0, len(file.read().strip().splitlines()) - 1)
    except OSError:
        return 0


_PROBE = r"""
import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def answer(result):
    return "allowed" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
fds = [fd for fd in fds if os.path.exists(f"/proc/self/fd/{fd}")]  # the listing's own is gone
namespaces = {
    "unshare": answer(libc.unshare(0x10000000 | 0x00020000)),
    "clone": answer(libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)),
    "clone3": answer(libc.syscall(435, 0, 0)),
    "setns": answer(libc.setns(0, 0)),
    "mount": answer(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
}
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\t" in line)
mounts = sorted({line.split()[4] for line in open("/proc/self/mountinfo")})
writable = []
for point in mounts:
    try:
        fd = os.open(os.path.join(point, ".tl-probe"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except OSError:
        continue
    os.close(fd)
    os.unlink(os.path.join(point, ".tl-probe"))
    writable.append(point)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    connect = "connected"
except OSError as err:
    connect = err.strerror or type(err).__name__
try:
    os.write(0, b"x")
    stdin_write = "allowed"
except OSError as err:
    stdin_write = errno.errorcode.get(err.errno, "?")
import fcntl
mode = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}[
    fcntl.fcntl(0, fcntl.F_GETFL) & os.O_ACCMODE]
print(json.dumps({
    "uid": os.getuid(), "cap_eff": int(status["CapEff"], 16),
    "no_new_privs": int(status["NoNewPrivs"]), "seccomp": int(status["Seccomp"]),
    "namespaces": namespaces, "mounts": mounts, "writable": writable,
    "interfaces": [name for _, name in socket.if_nameindex()], "connect": connect,
    "fds": fds, "stdin": {"write": stdin_write, "mode": mode},
}))
"""
