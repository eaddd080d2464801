"""The multi-process path: `accelerate launch` with 2 CPU processes (DDP over gloo) for SFT and GRPO."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from transferlab.train.callbacks import read_log

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "accelerate" / "cpu_2proc.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*argv: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CONFIG),
        "--main_process_port",
        str(free_port()),
        "-m",
        "transferlab.commands.train",
        *argv,
        "--quiet",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)


def test_sft_and_grpo_under_accelerate_with_two_processes(tiny_model, tmp_path):
    from transferlab.backends.hf import HFBackend

    data = tmp_path / "sft.jsonl"
    data.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": f"what is {a} plus 2?"}, {"role": "assistant", "content": f"\\boxed{{{a + 2}}}"}]}) + "\n"
            for a in range(16)
        )
    )
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"problem": f"what is {a} plus 2?", "answer": str(a + 2)}) + "\n" for a in range(8)))
    runs = {
        "sft": ("sft", "--base", str(tiny_model), "--data", str(data), "--preset", "tiny", "--max-steps", "2", "--out", str(tmp_path / "sft")),
        "grpo": ("grpo", "--base", str(tiny_model), "--prompts", str(prompts), "--preset", "tiny", "--max-steps", "2", "--out", str(tmp_path / "grpo")),
    }
    for name, argv in runs.items():
        done = launch(*argv)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "rank 0 of 2 finished at step 2" in done.stderr and "rank 1 of 2 finished at step 2" in done.stderr, done.stderr[-3000:]
        out = tmp_path / name
        assert [r["step"] for r in read_log(out / "train_log.jsonl") if "event" not in r] == [1, 2]  # logged once, by rank 0
        HFBackend(str(out), device="cpu")
