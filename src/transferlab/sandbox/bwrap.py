"""The bubblewrap command line of one sandboxed run.

Every program runs in fresh pid, network, IPC, UTS and cgroup namespaces and a fresh mount
namespace that holds only read-only binds of what the interpreter needs (``/usr``, ``/lib*``, the
interpreter's prefix, ``/etc/ld.so.cache``), a fresh ``/proc`` and ``/dev``, and one small tmpfs at
``/tmp`` that is the only writable place and the working directory. The environment is cleared.
``prlimit`` sets the per-process limits (address space, processes, CPU seconds, file size, open
files); bubblewrap loads the seccomp filter (``--seccomp FD``) right before it starts the program.

As root, bwrap builds the sandbox without a user namespace and ``setpriv`` drops the program to a
fresh unprivileged uid with no capabilities: the process limit counts per uid, and the kernel
ignores it for root (which a user namespace made by root would map the program to). As another
user, bwrap maps that user to ``nobody`` in a user namespace and, where bwrap has it (0.8.0 and
later), ``--disable-userns`` stops the program from making further ones. Either way the seccomp
filter refuses every call that makes a namespace.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
import sys
import sysconfig

from transferlab.sandbox.limits import SandboxLimits

WORKDIR = "/tmp"
PROGRAM = "/tmp/main.py"
NOBODY = 65534


def command(limits: SandboxLimits, program_fd: int, seccomp_fd: int, uid: int | None) -> list[str]:
    """The bwrap command that runs the program in ``program_fd`` as ``uid`` (root mode) or as
    ``nobody`` in a user namespace (``uid`` None); ``seccomp_fd`` holds the BPF filter."""
    exe = interpreter()[0]
    cmd = [shutil.which("bwrap") or "bwrap"]
    cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if uid is None:  # an ordinary user: a user namespace maps them to nobody inside
        cmd += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
        if disables_userns():
            cmd += ["--disable-userns"]
    cmd += _mount_args(limits, program_fd)
    cmd += ["--chdir", WORKDIR, "--clearenv"]
    for key, value in (("PATH", "/usr/bin:/bin"), ("HOME", WORKDIR), ("TMPDIR", WORKDIR), ("LANG", "C.UTF-8")):
        cmd += ["--setenv", key, value]
    cmd += ["--seccomp", str(seccomp_fd)]
    if uid is not None:  # root: drop to a fresh uid, no capabilities, no way back
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv"]
        cmd += ["--reuid", str(uid), "--regid", str(uid), "--clear-groups"]
        cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    cmd += ["--", *_limit_args(limits), exe, "-I", "-S", "-B", "-c", _BOOTSTRAP]
    return cmd


@functools.lru_cache(maxsize=1)
def disables_userns() -> bool:
    """Whether this bwrap has ``--disable-userns`` (bubblewrap 0.8.0 and later)."""
    try:
        shown = subprocess.run(
            [shutil.which("bwrap") or "bwrap", "--help"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--disable-userns" in shown.stdout + shown.stderr


def cpu_seconds(limits: SandboxLimits) -> int:
    """The soft RLIMIT_CPU of a run, in whole seconds (the hard limit is one more)."""
    return max(1, math.ceil(limits.cpu_s if limits.cpu_s is not None else limits.timeout_s))


@functools.lru_cache(maxsize=1)
def interpreter() -> tuple[str, list[str]]:
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
    for prefix in interpreter()[1]:
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
    args += ["--size", str(size), "--perms", "1777", "--tmpfs", WORKDIR]
    args += ["--perms", "0444", "--ro-bind-data", str(program_fd), PROGRAM]
    # the new root and /dev are tmpfs that bwrap made: in a user namespace the program would own
    # them and could fill them past every size limit. Device nodes still work on a read-only /dev.
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return args


def _limit_args(limits: SandboxLimits) -> list[str]:
    cpu = cpu_seconds(limits)
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


# Python runs without site (-S: no site-packages or .pth files, a fast start). The bootstrap adds
# the two names from site that programs use (exit, quit) and runs the program as __main__ under
# its own file name. It reports nothing: the peak memory comes from the cgroup or the parent.
_BOOTSTRAP = (
    "import builtins, os, sys, __main__\n"  # os and sys stay visible, as they always were
    "builtins.exit = builtins.quit = sys.exit\n"
    f"sys.argv[:] = [{PROGRAM!r}]\n"
    f"__main__.__file__ = {PROGRAM!r}\n"
    f"with open({PROGRAM!r}, 'rb') as _f:\n"
    f"    _code = compile(_f.read(), {PROGRAM!r}, 'exec', dont_inherit=True)\n"
    "del _f, builtins, __main__\n"
    "exec(_code)\n"
)
