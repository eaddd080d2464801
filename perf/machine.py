"""What machine a performance script ran on: printed first by every script in this folder, since
the same code runs at different speeds on CPUs with AVX2 only and with AVX-512 and AMX (bfloat16
matrix units, where a bfloat16 matmul runs about 2x faster than float32).

    .venv/bin/python perf/machine.py     # prints the line on its own
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The instruction-set extensions that change the speed of our matrix products and of llama.cpp.
RELEVANT_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags(cpuinfo: str) -> tuple[str, list[str]]:
    """(model name, the relevant flags present) from the text of /proc/cpuinfo."""
    model, flags = platform.processor() or platform.machine(), set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, [f for f in RELEVANT_FLAGS if f in flags]


def machine_line() -> str:
    """One line: CPU model, relevant flags, core count, and the kernels torch picked (if installed)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    model, flags = cpu_flags(text)
    line = f"CPU: {model}; {os.cpu_count()} cores; flags: {' '.join(flags) or 'none of ' + ', '.join(RELEVANT_FLAGS[:3])}"
    try:
        import torch

        line += f"; torch {torch.__version__} CPU kernels: {torch.backends.cpu.get_cpu_capability()}"
    except ImportError:
        pass
    return line


if __name__ == "__main__":
    print(machine_line())
