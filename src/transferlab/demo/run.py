"""``transferlab demo``: the whole study in the mini-world, from the shipped base to the report.

    transferlab demo --out runs/demo [--quick] [--seed 0] [--dynamics]

Seven phases, each through the project's own code:

1. ``data``: math-only SFT data: the world's step-by-step solver writes a trace for each train
   item of the four math families, and only traces the family's scorer grades correct are kept
   (:mod:`transferlab.demo.data`).
2. ``sft``: supervised fine-tuning of the base (``transferlab train sft``, TRL).
3. ``grpo``: GRPO from the base on the same math train items, reward = the math scorer
   (``transferlab train grpo``, TRL).
4. ``eval``: base, SFT and GRPO greedy on held-out items of all twelve families, through the study
   runner and the store (``OUT/study.yaml`` is the spec; ``transferlab study run`` reads it).
5. ``ti``: per-group accuracy and TI v1/v2 with paired-bootstrap CIs -> ``OUT/ti.json``.
6. ``drift``: latent (PCA shift, CKA) and token (URIAL shares, KL, ranks) drift, base vs SFT and
   base vs GRPO, on every family -> ``OUT/drift/``.
7. ``report``: the HTML report with its drift section -> ``OUT/report/index.html``.

``--dynamics`` adds four phases after these (:mod:`transferlab.demo.dynamics`): two more training
seeds, every checkpoint evaluated, drift of every checkpoint, and the report again with the
trajectory, drift against transfer and seeds.

Resumable: a finished phase leaves ``OUT/phases/<phase>.json`` and is reused by the next run; an
unfinished one resumes (trainers from their last checkpoint, the evaluation from the store). The
presets are the ``tiny`` ones plus the overrides written in :data:`FULL` and :data:`QUICK` (the same
for every run, chosen on math results alone; never tuned toward any transfer result). One torch
thread; deterministic for a seed on one machine.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from transferlab.demo.dynamics import DYNAMICS_FULL, DYNAMICS_PHASES, DYNAMICS_QUICK, check_dynamics_folder
from transferlab.demo.phases import PHASES
from transferlab.demo.plan import FULL, QUICK, DemoPaths, DemoRun, check_folder, settings
from transferlab.demo.progress import PhaseDisplay, write_times
from transferlab.errors import ConfigError
from transferlab.runtime import quiet_libraries, set_threads
from transferlab.world import base_model_path

__all__ = ["run_demo"]


def _copy_base(shipped: Path, dest: Path) -> Path:
    """The run's own copy of the shipped base (every phase reads the same weights, whatever
    happens to the package meanwhile); written under a temporary name, then renamed."""
    import shutil

    if not (dest / "config.json").is_file():
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(shipped, tmp)
        tmp.replace(dest)
    return dest


def run_demo(
    out: str | Path,
    *,
    quick: bool = False,
    seed: int = 0,
    show_progress: bool | None = None,
    base: str | Path | None = None,
    dynamics: bool = False,
    threads: int = 1,
) -> dict[str, Any]:
    """Run (or resume) the demo into ``out``; returns the phase times and where the outputs are.

    ``base``: a world base folder (``transferlab world pretrain``); default: the shipped base.
    ``dynamics``: add the phases of :mod:`transferlab.demo.dynamics` (checkpoints, seeds, drift
    against transfer).
    ``threads``: torch's CPU threads (1: the tiny models run fastest, and deterministically, on one).
    """
    set_threads(threads)
    quiet_libraries()  # one display: the demo's own
    budget = QUICK if quick else FULL
    paths = DemoPaths(Path(out))
    if not paths.out.parent.exists():
        raise ConfigError(f"the folder {paths.out.parent} does not exist", "create it or choose another --out")
    shipped = Path(base) if base is not None else Path(base_model_path())
    if not (shipped / "config.json").is_file() or not (shipped / "tokenizer.json").is_file():
        raise ConfigError(
            f"{shipped} is not a world base model folder (no config.json or tokenizer.json)",
            "pass a folder written by `transferlab world pretrain --out DIR`, or leave out --base",
        )
    check_folder(paths, settings(budget, seed, shipped))
    base = _copy_base(shipped, paths.base)
    extra = DYNAMICS_QUICK if quick else DYNAMICS_FULL
    display = PhaseDisplay({**budget.expected_s, **(extra.expected_s if dynamics else {})}, enabled=show_progress)
    run = DemoRun(budget, seed, paths, base, display)
    if dynamics:
        check_dynamics_folder(run, extra)
    started = time.perf_counter()
    with display.running(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecation notices of the libraries, not ours
        for phase in PHASES:
            phase(run)
        for dynamics_phase in DYNAMICS_PHASES if dynamics else ():
            dynamics_phase(run, extra)
    total = time.perf_counter() - started
    write_times(paths.out / "times.json", {**display.times, "total": total}, display.reused)
    return {"out": str(paths.out), "seconds": {**display.times, "total": total}, "reused": sorted(display.reused), "info": run.info}
