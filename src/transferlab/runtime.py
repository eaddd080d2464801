"""Process-wide settings a command applies once, before it works: torch's CPU threads, and how loud
the third-party libraries (transformers, datasets, huggingface_hub, tqdm, warnings) are."""

from __future__ import annotations

import logging
import os
import warnings

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(n: int) -> None:
    """Run torch on ``n`` CPU threads (intra-op and inter-op); worker processes started later inherit
    ``OMP_NUM_THREADS=n``. On a busy machine fewer threads than cores is often faster (contention)."""
    if n < 1:
        from transferlab.errors import ConfigError

        raise ConfigError(f"--threads must be 1 or more, got {n}", "e.g. --threads 1 on a busy machine")
    for name in THREAD_ENV:
        os.environ[name] = str(n)
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # only settable once, before any inter-op work: keep what is set
        pass


def quiet_libraries() -> None:
    """Silence the libraries' own progress bars, info logs and warnings (``--quiet``); our own
    one-line errors still print. Child processes inherit it through the environment."""
    os.environ.update(
        {
            "TQDM_DISABLE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TRANSFORMERS_VERBOSITY": "error",
            "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
            "DATASETS_VERBOSITY": "error",
            "PYTHONWARNINGS": "ignore",
        }
    )
    warnings.filterwarnings("ignore")
    for name in ("transformers", "datasets", "huggingface_hub", "accelerate", "trl", "torch", "urllib3", "filelock"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - a dependency
        pass
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.utils.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - a dependency
        pass
