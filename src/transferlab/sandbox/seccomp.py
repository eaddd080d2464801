"""The seccomp filter every sandboxed program runs under, built with libseccomp.

The filter allows every system call but those below, which fail with EPERM: the calls that make
or enter namespaces (``unshare``, ``setns``, ``clone`` with any ``CLONE_NEW*`` flag), mount or
pivot filesystems, reach the kernel's keyrings, BPF, perf events, io_uring, load or replace kernel
code, reboot, trace or read other processes, or open files by handle. ``clone3`` fails with ENOSYS:
its flags sit in memory that a filter cannot read, and libc then falls back to ``clone``, whose
flags the filter does check (as Docker and systemd do). System calls of another architecture (the
32-bit ABIs) kill the process.

The filter is built once per process and exported as BPF; bubblewrap loads it from a pipe
(``--seccomp FD``) right before it starts the program, after its own set-up.

The binding: libseccomp's own Python module (``seccomp``) where it is importable, else
``pyseccomp`` (pinned in pyproject), a ctypes binding with the same API; both need the system's
libseccomp (``libseccomp2``).
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from transferlab.errors import TransferlabError

REFUSED = (
    "unshare",
    "setns",  # new or other namespaces
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "mount_setattr",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "fspick",
    "keyctl",
    "add_key",
    "request_key",  # the kernel's keyrings
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",  # its operations bypass seccomp
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
)
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x0002_0000,
    "CLONE_NEWCGROUP": 0x0200_0000,
    "CLONE_NEWUTS": 0x0400_0000,
    "CLONE_NEWIPC": 0x0800_0000,
    "CLONE_NEWUSER": 0x1000_0000,
    "CLONE_NEWPID": 0x2000_0000,
    "CLONE_NEWNET": 0x4000_0000,
}  # CLONE_NEWTIME (0x80) shares its bit with clone's exit signal: clone3 alone takes it


@dataclass(frozen=True)
class Filter:
    """A built filter: its BPF program and what went into it."""

    bpf: bytes  # the BPF program, 8 bytes an instruction
    binding: str  # e.g. "pyseccomp 0.1.2"
    refused: tuple[str, ...]  # system calls refused with EPERM
    unknown: tuple[str, ...]  # names this libseccomp does not know (so not in the filter)

    def describe(self) -> str:
        """One line for ``sandbox check``."""
        text = (
            f"{len(self.refused)} system calls refused (EPERM), clone with a CLONE_NEW* flag"
            f" refused, clone3 answered ENOSYS; {len(self.bpf) // 8} BPF instructions,"
            f" built with {self.binding}"
        )
        if self.unknown:
            text += f"; unknown to this libseccomp, so not filtered: {', '.join(self.unknown)}"
        return text


def binding() -> tuple[Any, str]:
    """The libseccomp binding and its name with version; raises when none can be loaded."""
    problems = []
    for module, dist in (("seccomp", "seccomp"), ("pyseccomp", "pyseccomp")):
        try:
            found = importlib.import_module(module)
        except (ImportError, RuntimeError, OSError) as err:  # pyseccomp: RuntimeError, no .so
            problems.append(f"{module}: {err}")
            continue
        try:
            return found, f"{module} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:  # a distribution's package (python3-seccomp)
            return found, f"{module} (from the system's packages)"
    raise TransferlabError(
        f"no libseccomp binding can be loaded ({'; '.join(problems)})",
        "install the system library and the binding: apt-get install libseccomp2 and pip install 'pyseccomp==0.1.2' (make install does both)",
    )


@functools.lru_cache(maxsize=1)
def build() -> Filter:
    """Build the filter (once per process) and export it as BPF."""
    sc, name = binding()
    flt = sc.SyscallFilter(sc.ALLOW)
    refused, unknown = [], []
    for call in REFUSED:
        if not _known(sc, call):
            unknown.append(call)
            continue
        flt.add_rule(sc.ERRNO(errno.EPERM), call)
        refused.append(call)
    flags_arg = 1 if sc.system_arch() in _s390(sc) else 0  # s390 passes the stack first
    for flag in NAMESPACE_FLAGS.values():
        flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(flags_arg, sc.MASKED_EQ, flag, flag))
    if _known(sc, "clone3"):
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    else:
        unknown.append("clone3")
    return Filter(_export(flt), name, tuple(refused), tuple(unknown))


def program_fd() -> int:
    """A pipe's read end holding the BPF program, for ``bwrap --seccomp FD``; the caller closes
    it once bwrap has started (bwrap reads it to the end and closes its own copy)."""
    program = build().bpf
    read, write = os.pipe()
    try:
        if len(program) > 65536:  # a pipe holds 64 KiB: the filter is a few hundred bytes
            raise TransferlabError("the seccomp filter is too large for a pipe", "report a bug")
        os.write(write, program)
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return read


def _known(sc: Any, call: str) -> bool:
    return int(sc.resolve_syscall(sc.Arch.NATIVE, call)) >= 0


def _s390(sc: Any) -> set[int]:
    return {getattr(sc.Arch, arch) for arch in ("S390", "S390X") if hasattr(sc.Arch, arch)}


def _export(flt: Any) -> bytes:
    fd = os.memfd_create("transferlab-seccomp", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b", buffering=0) as file:
        flt.export_bpf(file)
        file.seek(0)
        return file.read()
