"""The code sandbox against programs that fight back (issue 21): nested namespaces, mounts, memory
that is not resident, a forged peak report, writes into stdin. Each attack runs for real in the
real sandbox; the kernel's answers and the run's cgroup say whether it was contained.

The cgroup v2 file logic is checked on a directory laid out as the kernel lays out a cgroup (this
machine's memory and pids controllers are on v1, so no v2 cgroup here can carry them), and the v2
placement of a run on the machine's real cgroup2 mount where there is one.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from transferlab.errors import TransferlabError
from transferlab.sandbox import (
    SandboxLimits,
    SandboxResult,
    bwrap,
    cgroups,
    runner,
    seccomp,
)
from transferlab.sandbox.cgroups import Cgroups, Hierarchy, RunCgroup, find_hierarchies
from transferlab.sandbox.watch import Watch

try:
    runner.check_available()
    _SKIP = ""
except TransferlabError as err:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):
        raise
    _SKIP = str(err)
needs_sandbox = pytest.mark.skipif(bool(_SKIP), reason=f"no sandbox here: {_SKIP}")
MACHINE = runner.machine_cgroups() if not _SKIP else Cgroups()
needs_cgroup = pytest.mark.skipif(
    "memory" not in MACHINE.bases or "pids" not in MACHINE.bases,
    reason=f"no memory and pids cgroup here: {MACHINE.problem}",
)
QUICK = SandboxLimits(timeout_s=10.0, memory_mb=256)


def attack(source: str, limits: SandboxLimits = QUICK, **kw: str) -> SandboxResult:
    result = runner.run_python(textwrap.dedent(source), limits=limits, **kw)
    assert "ESCAPED" not in result.stdout + result.stderr_tail, result
    return result


def answers(result: SandboxResult) -> dict[str, str]:
    """The ``name errno`` lines a hostile program printed."""
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


# --- 1. nested namespaces, mounts, chroot -----------------------------------------------------


@needs_sandbox
def test_nested_user_namespace_then_a_tmpfs_is_refused() -> None:
    result = attack("""
        import ctypes, errno, os, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
            os.makedirs("/tmp/big", exist_ok=True)
            if libc.mount(b"none", b"/tmp/big", b"tmpfs", 0, None) == 0:
                with open("/tmp/big/fill", "wb") as f:
                    for _ in range(40):
                        f.write(b"x" * (10 * 2**20))
            print("ESCAPED unshare")
        print("unshare", errno.errorcode[ctypes.get_errno()])
        tool = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                              capture_output=True, text=True)
        print("unshare-tool", tool.returncode, tool.stderr.strip().replace(" ", "_"))
        raise SystemExit(1)
        """)
    told = answers(result)
    assert result.status == "failed" and told["unshare"] == "EPERM", result
    assert told["unshare-tool"].startswith("1 ") and "Operation_not_permitted" in told["unshare-tool"]
    assert result.peak_memory_mb < 100  # nothing was filled: the kernel's own count says so


@needs_sandbox
def test_mount_chroot_and_kernel_interfaces_are_refused_by_the_filter() -> None:
    result = attack("""
        import ctypes, errno, os, threading
        libc = ctypes.CDLL(None, use_errno=True)
        def say(name, rc):
            print(name, "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()])
        say("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
        say("umount2", libc.umount2(b"/tmp", 0))
        say("chroot", libc.chroot(b"/tmp"))
        say("pivot_root", libc.syscall(155, b"/tmp", b"/tmp"))
        say("setns", libc.setns(0, 0))
        say("clone_newuser", libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0))
        say("clone_newnet", libc.syscall(56, 0x40000000 | 17, 0, 0, 0, 0))
        say("clone3", libc.syscall(435, 0, 0))
        say("fsopen", libc.syscall(430, b"tmpfs", 0))
        say("open_tree", libc.syscall(428, -100, b"/usr", 1))
        # allowed to an unprivileged process without the filter: refused only by it
        say("keyctl", libc.syscall(250, 0, -3, 0))  # KEYCTL_GET_KEYRING_ID of the session
        say("userfaultfd", libc.syscall(323, 1))  # UFFD_USER_MODE_ONLY
        say("io_uring_setup", libc.syscall(425, 1, ctypes.create_string_buffer(120)))
        say("ptrace", libc.ptrace(0, 0, 0, 0))  # PTRACE_TRACEME
        buf = ctypes.create_string_buffer(8)
        vec = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 8)
        say("process_vm_readv", libc.process_vm_readv(os.getpid(), vec, 1, vec, 1, 0))
        t = threading.Thread(target=print, args=("thread", "ok"))  # clone3 -> clone fallback
        t.start(); t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        status = open("/proc/self/status").read()
        print("Seccomp", [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")][0])
        raise SystemExit(1)
        """)
    told = answers(result)
    refused = [
        "mount",
        "umount2",
        "chroot",
        "pivot_root",
        "setns",
        "clone_newuser",
        "clone_newnet",
        "fsopen",
        "open_tree",
        "keyctl",
        "userfaultfd",
        "io_uring_setup",
        "ptrace",
        "process_vm_readv",
    ]
    assert {name: told[name] for name in refused} == dict.fromkeys(refused, "EPERM"), told
    assert told["clone3"] == "ENOSYS" and told["Seccomp"] == "2"
    assert told["thread"] == "ok" and told["fork"] == "7"  # ordinary threads and forks still work
    assert result.status == "failed" and result.exit_code == 1


# --- 2. memory that is not resident -------------------------------------------------------------


@needs_sandbox
@needs_cgroup
def test_memfd_files_past_the_limit_are_stopped_as_memory() -> None:
    result = attack("""
        import os
        fds = []
        for i in range(100):  # 32 MB each: under the 64 MB file-size limit, 3.2 GB in all
            fd = os.memfd_create(f"hog{i}")
            os.write(fd, b"x" * (32 * 2**20))
            fds.append(fd)
            print("held", (i + 1) * 32, flush=True)
        print("ESCAPED")
        """)
    held = max(int(line.split()[1]) for line in result.stdout.splitlines())
    assert result.status == "memory" and "kernel's count" in result.detail, result
    assert held < QUICK.memory_mb  # stopped before it held the limit in memfd pages
    assert result.memory_counted_by.startswith("cgroup v")
    assert 0.8 * QUICK.memory_mb <= result.peak_memory_mb <= QUICK.memory_mb * 1.01


@needs_sandbox
@needs_cgroup
def test_system_v_shared_memory_past_the_limit_is_stopped_as_memory() -> None:
    result = attack(
        """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = ctypes.c_void_p
        size = 32 * 2**20
        for i in range(20):  # each filled, then detached: held by the kernel, mapped by no one
            shm = libc.shmget(0, ctypes.c_size_t(size), 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
            addr = libc.shmat(shm, None, 0)
            ctypes.memset(addr, 1, size)
            libc.shmdt(ctypes.c_void_p(addr))
            print("held", (i + 1) * 32, flush=True)
        print("ESCAPED")
        """,
        SandboxLimits(timeout_s=10.0, memory_mb=256),
    )
    held = max(int(line.split()[1]) for line in result.stdout.splitlines())
    assert result.status == "memory" and held < 256, result
    assert 200 <= result.peak_memory_mb <= 256 * 1.01


@needs_sandbox
@needs_cgroup
def test_the_peak_is_the_kernels_and_counts_tmpfs_pages() -> None:
    result = attack("""
        with open("/tmp/fill", "wb") as f:  # tmpfs pages: nobody's resident memory
            for _ in range(6):
                f.write(b"x" * (8 * 2**20))
        block = bytearray(60 * 2**20)
        block[::4096] = b"1" * len(block[::4096])  # touch every page
        print("done")
        """)
    assert result.status == "ok" and result.stdout == "done\n", result
    assert result.memory_counted_by.startswith("cgroup v")
    assert 48 + 60 <= result.peak_memory_mb < 48 + 60 + 60  # both counted, once each


# --- 3. a forged peak through an inherited descriptor -------------------------------------------


@needs_sandbox
def test_no_descriptor_but_0_1_2_is_inherited_so_no_peak_can_be_forged() -> None:
    result = attack("""
        import os
        open_fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
        written = []
        for fd in range(3, 1025):
            try:
                os.write(fd, b"99999999\\n")
                written.append(fd)
            except OSError:
                pass
        print("fds", open_fds)
        print("written", written)
        raise SystemExit(1)
        """)
    lines = result.stdout.splitlines()
    assert lines[0] in ("fds [0, 1, 2, 3]", "fds [0, 1, 2]")  # 3: listdir's own, while listing
    assert lines[1] == "written []" and result.status == "failed"
    assert result.peak_memory_mb < 100  # the cgroup's (or the parent's) count, never the program's


# --- 4. writing into stdin ------------------------------------------------------------------------


@needs_sandbox
def test_stdin_is_a_read_only_pipe() -> None:
    result = attack(
        """
        import errno, fcntl, os, stat, sys
        def attempt(name, fn):
            try:
                fn()
                print(name, "allowed")
            except OSError as err:
                print(name, errno.errorcode[err.errno])
        attempt("write0", lambda: os.write(0, b"tampered"))
        attempt("reopen", lambda: open("/proc/self/fd/0", "wb").write(b"tampered"))
        attempt("truncate", lambda: os.ftruncate(0, 0))
        print("fifo", stat.S_ISFIFO(os.fstat(0).st_mode))
        print("mode", fcntl.fcntl(0, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY)
        print("read", sys.stdin.read().strip())
        raise SystemExit(1)
        """,
        stdin="the original input\n",
    )
    told = answers(result)
    assert told["write0"] == "EBADF" and told["truncate"] == "EINVAL"
    # root mode: the pipe belongs to root, not to the sandbox's uid; as another user a reopened
    # pipe would only feed the program's own input: no file on the host exists to be changed
    assert told["reopen"] == ("EACCES" if os.geteuid() == 0 else told["reopen"])
    assert told["fifo"] == "True" and told["mode"] == "True"
    assert told["read"] == "the original input"


@needs_sandbox
def test_large_stdin_arrives_whole_and_an_unread_one_does_not_hang() -> None:
    given = "".join(f"{i} {i * i}\n" for i in range(400_000))  # 5.6 MB, far past a pipe's 64 KiB
    result = runner.run_python("import hashlib, sys\ndata = sys.stdin.buffer.read()\nprint(len(data), hashlib.sha256(data).hexdigest())\n", stdin=given)
    assert result.stdout.split() == [str(len(given)), hashlib.sha256(given.encode()).hexdigest()]
    ignored = runner.run_python("print('not reading')", stdin=given)
    assert ignored.status == "ok" and ignored.stdout == "not reading\n"


# --- the cgroups: made, removed, swept; none at all ---------------------------------------------


@needs_sandbox
@needs_cgroup
def test_each_run_cgroup_is_removed_and_dead_graders_cgroups_are_swept() -> None:
    bases = {base for _, base in MACHINE.bases.values()}
    mine = f"run-{os.getpid()}-"
    runner.run_many(["print(1)"] * 4, limits=QUICK)
    assert not [p for base in bases for p in base.iterdir() if p.name.startswith(mine)]
    dead = subprocess.Popen(["true"])
    dead.wait(timeout=30)
    stale = [base / f"run-{dead.pid}-0" for base in bases]
    for path in stale:
        path.mkdir()
    swept = [p for base in bases for p in cgroups.sweep(base)]
    assert set(stale) <= set(swept) and not any(p.exists() for p in stale)


@needs_sandbox
def test_without_a_cgroup_it_says_so_once_and_keeps_the_other_limits(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_warned", set())
    none = Cgroups(problems={"memory": "none in this test", "pids": "none in this test"})
    with caplog.at_level(logging.WARNING, logger=runner.__name__):
        plain = runner.run_one("print(6 * 7)", "", QUICK, cgroups=none)
        spread = runner.run_one(
            textwrap.dedent("""
            import os, time
            for _ in range(6):
                if os.fork() == 0:
                    block = bytearray(200 * 2**20)
                    block[::4096] = b"1" * len(block[::4096])
                    time.sleep(30)
            time.sleep(30)
            """),
            "",
            SandboxLimits(timeout_s=8, memory_mb=512),
            cgroups=none,
        )
        bomb = runner.run_one("import os\nwhile True:\n    os.fork()\n", "", SandboxLimits(timeout_s=2), cgroups=none)
    warnings = [r.getMessage() for r in caplog.records if "no memory or pids cgroup" in r.getMessage()]
    assert len(warnings) == 1 and "none in this test" in warnings[0]
    assert plain.ok and plain.stdout == "42\n" and plain.memory_counted_by == "sampled"
    assert spread.status == "memory" and "sampled" in spread.detail  # the parent's watchdog
    assert bomb.status in ("timeout", "failed")  # RLIMIT_NPROC holds the fork bomb


# --- cgroup v2: the file logic on a cgroupfs-like tree, the placement on a real mount -----------


def _layout(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_hierarchies_are_found_in_mountinfo(tmp_path: Path) -> None:
    v2 = _layout(tmp_path / "unified", {"cgroup.controllers": "cpuset cpu io memory pids"})
    text = (
        "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
        "31 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:10 - cgroup cgroup rw,pids\n"
        "32 25 0:28 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu\n"
        f"33 25 0:29 / {v2} rw,relatime shared:12 - cgroup2 cgroup2 rw,nsdelegate\n"
        "34 25 0:30 / /tmp rw,relatime - tmpfs tmpfs rw\n"
    )
    found = find_hierarchies(text)
    assert found == [
        Hierarchy(1, Path("/sys/fs/cgroup/memory"), frozenset({"memory"})),
        Hierarchy(1, Path("/sys/fs/cgroup/pids"), frozenset({"pids"})),
        Hierarchy(2, v2, frozenset({"memory", "pids"})),
    ]
    with open("/proc/self/mountinfo") as file:  # and this machine's own table parses
        assert all(h.version in (1, 2) for h in find_hierarchies(file.read()))


def test_v2_base_enables_controllers_and_runs_get_v2_limits(tmp_path: Path) -> None:
    mount = _layout(tmp_path / "cg2", {"cgroup.controllers": "cpu memory pids", "cgroup.subtree_control": "cpu"})
    _layout(mount / "transferlab", {"cgroup.subtree_control": ""})  # the kernel makes these
    hierarchy = Hierarchy(2, mount, frozenset({"memory", "pids"}))
    groups = cgroups.setup([hierarchy], "transferlab")
    assert groups.problem == "" and groups.memory_version == groups.pids_version == 2
    assert groups.bases["memory"] == groups.bases["pids"] == (hierarchy, mount / "transferlab")
    assert (mount / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (mount / "transferlab" / "cgroup.subtree_control").read_text() == "+memory +pids"
    fresh = {
        "memory.max": "max",
        "memory.swap.max": "max",
        "pids.max": "max",
        "memory.peak": "0",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
        "cgroup.procs": "",
    }
    run_dir = _layout(mount / "transferlab" / "run-1-0", fresh)
    run = RunCgroup({run_dir: hierarchy})
    run.set_limit("memory", 2, run_dir, 256 * 2**20, 18)
    run.set_limit("pids", 2, run_dir, 256 * 2**20, 18)
    assert (run_dir / "memory.max").read_text() == str(256 * 2**20)
    assert (run_dir / "memory.swap.max").read_text() == "0"  # RAM alone holds the limit
    assert (run_dir / "pids.max").read_text() == "18"
    assert run.procs_files == [str(run_dir / "cgroup.procs")]
    (run_dir / "memory.peak").write_text("123456789\n")
    (run_dir / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n")
    assert run.peak_bytes() == 123456789 and run.oom_kills() == 2


def test_v1_limits_with_and_without_swap_accounting(tmp_path: Path) -> None:
    hierarchy = Hierarchy(1, tmp_path, frozenset({"memory"}))
    with_swap = _layout(
        tmp_path / "a",
        {
            "memory.limit_in_bytes": "9223372036854771712",
            "memory.memsw.limit_in_bytes": "9223372036854771712",
            "memory.memsw.max_usage_in_bytes": "5000",
            "memory.max_usage_in_bytes": "4000",
            "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        },
    )
    no_swap = _layout(
        tmp_path / "b",
        {"memory.limit_in_bytes": "9223372036854771712", "memory.max_usage_in_bytes": "4000", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n"},
    )
    for path in (with_swap, no_swap):
        RunCgroup({path: hierarchy}).set_limit("memory", 1, path, 1000, 5)
    assert (with_swap / "memory.memsw.limit_in_bytes").read_text() == "1000"
    assert not (no_swap / "memory.memsw.limit_in_bytes").exists()
    assert RunCgroup({with_swap: hierarchy}).peak_bytes() == 5000  # RAM and swap
    assert RunCgroup({no_swap: hierarchy}).peak_bytes() == 4000
    assert RunCgroup({with_swap: hierarchy}).oom_kills() == 1
    assert RunCgroup({no_swap: hierarchy}).oom_kills() == 0


def _real_cgroup2() -> Path | None:
    """A writable cgroup2 mount of this machine, whatever controllers it carries."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    mounts = [Path(line.split()[4]) for line in lines if " - cgroup2 " in line]
    return next((m for m in mounts if os.access(m, os.W_OK)), None)


@needs_sandbox
@pytest.mark.skipif(_real_cgroup2() is None, reason="no writable cgroup2 mount here")
def test_a_run_is_placed_in_a_real_v2_cgroup_before_it_starts() -> None:
    mount = _real_cgroup2()
    assert mount is not None
    path = mount / "transferlab-test" / f"run-{os.getpid()}-placement"
    path.mkdir(parents=True, exist_ok=True)
    run = RunCgroup({path: Hierarchy(2, mount, frozenset())})
    limits = SandboxLimits(timeout_s=10)
    fds = [runner._memfd(b"import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\nprint('burned')\n"), seccomp.program_fd()]
    try:
        uid = runner._fresh_uid() if os.geteuid() == 0 else None
        cmd = cgroups.launcher(run.procs_files) + bwrap.command(limits, fds[0], fds[1], uid)
        result = Watch(limits, run, memory_by_kernel=False, counted_by="sampled").run(cmd, b"", fds)
        usage = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines())
        populated = (path / "cgroup.events").read_text()
    finally:
        for fd in fds:
            os.close(fd)
        removed = run.remove()
        with contextlib.suppress(OSError):
            path.parent.rmdir()
    assert result.ok and result.stdout == "burned\n", result
    assert int(usage["usage_usec"]) >= 250_000  # the program's CPU time was charged here
    assert removed and not path.exists()
    assert "populated" in populated  # (it may still read 1 for a moment after the last exit)


# --- sandbox check ------------------------------------------------------------------------------


@needs_sandbox
def test_check_prints_one_line_per_protection(capsys: pytest.CaptureFixture[str]) -> None:
    from transferlab.commands import sandbox as command

    parser = argparse.ArgumentParser(prog="transferlab")
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "check", "--json"])
    assert args.func(args) == 0
    lines = {line["name"]: line for line in json.loads(capsys.readouterr().out)}
    assert list(lines) == ["sandbox", "user namespaces", "seccomp filter", "cgroup memory", "cgroup pids", "network", "writable paths", "descriptors"]
    for name in ("sandbox", "user namespaces", "seccomp filter", "network", "writable paths", "descriptors"):
        assert lines[name]["held"], lines[name]
    assert lines["writable paths"]["state"] == "/tmp"
    expected = "memory" in MACHINE.bases and "pids" in MACHINE.bases
    assert lines["cgroup memory"]["held"] == lines["cgroup pids"]["held"] == expected
    args = parser.parse_args(["sandbox", "check", "--strict"])
    assert args.func(args) == (0 if expected else 1)
    text = capsys.readouterr().out
    assert text.count("\n") >= 8 and "user namespaces    refused" in text


# --- as an ordinary user: a user namespace, and a cgroup only where one is delegated ------------

_AS_USER = r"""
import json, sys
from transferlab.sandbox import SandboxLimits, check, run_python
lines = {p.name: [p.state, p.held, p.detail] for p in check()}
fill_root = run_python("for i in range(4):\n    open(f'/big{i}', 'wb').write(b'x' * 2**20)\n")
memfd = run_python(
    "import os\nfds = [os.memfd_create('x') for _ in range(12)]\n"
    "for fd in fds:\n    os.write(fd, b'x' * (32 * 2**20))\nprint('ESCAPED')\n",
    limits=SandboxLimits(memory_mb=256))
print(json.dumps({"lines": lines, "fill_root": [fill_root.status, fill_root.stderr_tail],
                  "memfd": [memfd.status, memfd.memory_counted_by, memfd.peak_memory_mb]}))
"""
NOBODY = 65534


def _as_nobody(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``_AS_USER`` as nobody with the system's Python and this checkout's package."""
    import pyseccomp

    path = f"{Path(runner.__file__).parents[2]}:{Path(pyseccomp.__file__).parent}"
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "env",
            "-i",
            "HOME=/tmp",
            "PATH=/usr/bin:/bin",
            f"PYTHONPATH={path}",
            *[f"{k}={v}" for k, v in env.items()],
            "/usr/bin/python3",
            "-c",
            _AS_USER,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _nobody_can_run() -> str:
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"):
        return "needs root (to become nobody) and /usr/bin/python3"
    probe = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "/usr/bin/python3", "-c", "import sys; assert sys.version_info >= (3, 10)"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return "" if probe.returncode == 0 else "the system Python cannot run as nobody here"


@needs_sandbox
@pytest.mark.skipif(bool(_nobody_can_run()), reason=_nobody_can_run() or "-")
def test_as_an_ordinary_user_without_and_with_a_delegated_cgroup() -> None:
    plain = _as_nobody({})
    unreadable = ("No module named", "Permission denied", "ImportError")
    if not plain.stdout.strip() and any(text in plain.stderr for text in unreadable):  # e.g. a checkout under a 0700 folder
        pytest.skip(f"the checkout is not readable by nobody: {plain.stderr[-200:]}")
    assert plain.stdout.strip(), f"the check printed nothing as nobody (exit {plain.returncode}): {plain.stderr[-500:]}"
    report = json.loads(plain.stdout.splitlines()[-1])
    lines = report["lines"]
    assert lines["user namespaces"][:2] == ["refused", True]
    assert "--disable-userns" in lines["user namespaces"][2] or not bwrap.disables_userns()
    assert lines["writable paths"][:2] == ["/tmp", True]  # its own root and /dev are read-only
    assert report["fill_root"][0] == "failed" and "Read-only file system" in report["fill_root"][1]
    assert lines["cgroup memory"][:2] == ["none", False]  # said so, and once:
    assert plain.stderr.count("has no memory or pids cgroup") == 1
    assert report["memfd"][1] == "sampled"  # the fallback cannot see memfd pages: documented
    if "memory" not in MACHINE.bases or MACHINE.memory_version != 1:
        return
    name = f"transferlab-test-nobody-{os.getpid()}"  # delegate a v1 cgroup to nobody
    delegated = [base.parent / name for _, base in MACHINE.bases.values()]
    for path in delegated:
        path.mkdir()
        for entry in [path, *path.iterdir()]:
            os.chown(entry, NOBODY, NOBODY)
    try:
        given = _as_nobody({"TRANSFERLAB_SANDBOX_CGROUP": name})
    finally:
        for path in delegated:
            for run in [p for p in path.iterdir() if p.is_dir()]:
                run.rmdir()
            path.rmdir()
    report = json.loads(given.stdout.splitlines()[-1])
    assert report["lines"]["cgroup memory"][:2] == ["v1", True], report
    assert report["lines"]["cgroup pids"][:2] == ["v1", True]
    assert report["memfd"][:2] == ["memory", "cgroup v1"] and 200 < report["memfd"][2] <= 260
    assert "has no memory or pids cgroup" not in given.stderr


def test_check_without_any_sandbox_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from transferlab import cli

    monkeypatch.setattr(runner, "_available", False)
    monkeypatch.setattr(runner.shutil, "which", lambda name, *a, **k: None)
    assert cli.main(["sandbox", "check", "--strict"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "apt-get install bubblewrap" in captured.err


def test_a_named_base_outside_its_hierarchy_is_refused(tmp_path: Path) -> None:
    memory = Hierarchy(1, _layout(tmp_path / "memory", {}), frozenset({"memory"}))
    pids = Hierarchy(1, _layout(tmp_path / "pids", {}), frozenset({"pids"}))
    groups = cgroups.setup([memory, pids], str(tmp_path / "memory" / "alice"))
    assert groups.bases == {"memory": (memory, tmp_path / "memory" / "alice")}
    assert "not under its hierarchy" in groups.problems["pids"]
