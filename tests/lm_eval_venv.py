"""The lm-evaluation-harness venv the real-lm-eval import test runs (built by perf/eval_throughput.py's
``ensure_lm_eval_venv`` into .cache/bench-lm-eval-venv, or ``$TRANSFERLAB_LM_EVAL_VENV``).

Its first build (pip installing lm-eval[hf] and our torch: one to two minutes) starts in the
background, niced, as soon as that test is collected, so it takes the core the tests leave idle;
the test then waits for it (the build holds a file lock) instead of starting it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LM_EVAL_VENV = Path(os.environ.get("TRANSFERLAB_LM_EVAL_VENV") or REPO / ".cache" / "bench-lm-eval-venv")
IMPORT_TEST = "test_real_lm_eval_samples_import_then_score_ti_report"  # the test that needs the venv
BUILD = "import sys; sys.path.insert(0, 'perf'); from pathlib import Path; import eval_throughput as e; print(e.ensure_lm_eval_venv(Path(sys.argv[1])))"


def build(timeout: float) -> subprocess.CompletedProcess[str]:
    """Build the venv (or wait for the build under way, or return at once where it is built);
    its python is the last line of stdout."""
    return subprocess.run([sys.executable, "-c", BUILD, str(LM_EVAL_VENV)], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def build_in_background() -> None:
    """Start the build, niced, in a session of its own; the test that needs the venv waits for it."""
    LM_EVAL_VENV.parent.mkdir(parents=True, exist_ok=True)
    log = open(LM_EVAL_VENV.parent / "lm-eval-venv-build.log", "w")  # noqa: SIM115 - the build outlives this call
    subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-c", BUILD, str(LM_EVAL_VENV)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
