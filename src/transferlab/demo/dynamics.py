"""``transferlab demo --dynamics``: four more phases after the seven, on the same folder.

1. ``seeds``: SFT and GRPO trained again with two more seeds (the run's seed + 1 and + 2; the same
   data, prompts and presets), into ``OUT/models/{sft,grpo}-seed{N}``.
2. ``trajectory``: every checkpoint the two trainings of the run's seed kept (the demo's presets
   save every 50 SFT and every 10 GRPO steps and keep them all: six each) evaluated as the study
   ``world-demo-trajectory``, and the seed models as the study ``world-demo-seeds``, into the same
   store and under the same settings as the main study (the last checkpoint is the finished model:
   its completions are reused, not generated again). Both specs are written to ``OUT/dynamics/``.
3. ``drift-steps``: exact token KL and PCA shift of every checkpoint from the base on the first
   ``drift_items`` items of each family -> ``OUT/dynamics/drift/``.
4. ``dynamics``: ``trajectory.json``, ``seeds.json``, ``drift_transfer.json`` in ``OUT/dynamics/``
   and the report again, with three more sections: transfer during training, drift against
   transfer, seeds.

σ (TI v2) is the main study's in both studies, so TI along the trajectory and across seeds is on
the scale of ``OUT/ti.json``. A plain demo folder gains these phases by running again with
``--dynamics``; the seven phases are reused.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.demo.data import grpo_prompts, math_families
from transferlab.demo.phases import study_spec
from transferlab.demo.plan import DemoRun, check_folder, presets
from transferlab.demo.progress import count_log_steps, count_store_rows
from transferlab.demo.report import write_report
from transferlab.demo.study import write_spec
from transferlab.dynamics import (
    analyse_seeds,
    analyse_trajectory,
    checkpoint_drift,
    drift_points,
    drift_transfer,
    evaluate_trajectory,
    find_run,
    trajectory_spec,
)
from transferlab.groups import GROUPS, Group
from transferlab.io import write_json_atomic
from transferlab.report.dynamics import drift_transfer_section, seeds_section, trajectory_section
from transferlab.store import Store
from transferlab.study.run import run_study, study_for_store
from transferlab.study.spec import StudySpec
from transferlab.train.grpo import train_grpo
from transferlab.train.sft import train_sft

METHODS = ("sft", "grpo")


@dataclass(frozen=True)
class DynamicsBudget:
    """What ``--dynamics`` adds. ``extra_seeds``: trainings per method besides the run's seed;
    ``drift_items``: items per family in each checkpoint's drift; ``expected_s``: expected wall
    seconds of each phase on 2 idle CPU cores (the progress ETA)."""

    name: str
    extra_seeds: int
    drift_items: int
    expected_s: dict[str, float] = field(default_factory=dict)


DYNAMICS_FULL = DynamicsBudget("full", 2, 20, {"seeds": 450, "trajectory": 230, "drift-steps": 40, "dynamics": 60})
DYNAMICS_QUICK = DynamicsBudget("quick", 2, 4, {"seeds": 35, "trajectory": 30, "drift-steps": 10, "dynamics": 10})


def dynamics_folder(run: DemoRun) -> Path:
    return run.paths.out / "dynamics"


def seed_numbers(run: DemoRun, budget: DynamicsBudget) -> tuple[int, ...]:
    """The training seeds of the demo: the run's, then ``extra_seeds`` more."""
    return tuple(run.seed + k for k in range(budget.extra_seeds + 1))


def seed_model(run: DemoRun, method: str, seed: int) -> Path:
    """A method's model trained with ``seed`` (the run's own seed: the main model)."""
    main = run.paths.sft if method == "sft" else run.paths.grpo
    return main if seed == run.seed else run.paths.out / "models" / f"{method}-seed{seed}"


def check_dynamics_folder(run: DemoRun, budget: DynamicsBudget) -> None:
    """A folder holds one dynamics budget (``OUT/dynamics.json``), as it holds one demo run."""
    plain = {k: v for k, v in dataclasses.asdict(budget).items() if k != "expected_s"}
    check_folder(run.paths, {"dynamics": plain, "seed": run.seed}, record="dynamics.json")


def _main_sigma(run: DemoRun) -> dict[Group, float] | None:
    """The main study's σ per group (``OUT/ti.json``), None when it could not be set."""
    sigma = json.loads(run.paths.ti.read_text(encoding="utf-8")).get("sigma") if run.paths.ti.is_file() else None
    return {g: float(sigma[g]) for g in GROUPS} if sigma and set(sigma) == set(GROUPS) else None


def trajectory_study(run: DemoRun, main: StudySpec) -> tuple[StudySpec, list[Any]]:
    """The checkpoints of the run's SFT and GRPO as the study ``world-demo-trajectory`` (spec written to OUT/dynamics/)."""
    runs = [find_run(run.paths.sft), find_run(run.paths.grpo)]
    spec = trajectory_spec(
        runs,
        str(run.base.resolve()),
        main.benchmarks,
        name="world-demo-trajectory",
        generation=main.generation.to_dict(),
        backend=dataclasses.asdict(main.backend),
        limit=main.limit,
        groups=main.groups,
        sigma=_main_sigma(run),
    )
    return write_spec(spec.to_dict(), dynamics_folder(run) / "trajectory.yaml"), runs


def seeds_study(run: DemoRun, main: StudySpec, budget: DynamicsBudget) -> StudySpec:
    """Base and both methods over every seed as the study ``world-demo-seeds`` (spec written to OUT/dynamics/)."""
    data = main.to_dict()
    sigma = _main_sigma(run)
    data.update(
        name="world-demo-seeds",
        description=f"the demo's SFT and GRPO over seeds {', '.join(map(str, seed_numbers(run, budget)))}",
        models=[
            {"name": "base", "path": str(run.base.resolve()), "training": "base"},
            *(
                {
                    "name": m,
                    "base": "base",
                    "training": "SFT" if m == "sft" else "RL",
                    "seeds": {s: str(seed_model(run, m, s).resolve()) for s in seed_numbers(run, budget)},
                }
                for m in METHODS
            ),
        ],
        ti={"version": "v2", "ddof": 1, **({"sigma": sigma} if sigma else {})},
    )
    return write_spec(data, dynamics_folder(run) / "seeds.yaml")


def phase_seeds(run: DemoRun, budget: DynamicsBudget) -> None:
    extra = seed_numbers(run, budget)[1:]
    sft_steps, grpo_steps = presets(run.budget, run.seed)[0].max_steps, presets(run.budget, run.seed)[1].max_steps
    logs = [seed_model(run, m, s) / "train_log.jsonl" for s in extra for m in METHODS]

    def work() -> dict[str, Any]:
        prompts = grpo_prompts(math_families(), run.budget.train_items, run.seed)
        done = {}
        for s in extra:
            sft, grpo = presets(run.budget, s)
            done[f"sft-seed{s}"] = train_sft(str(run.base), run.paths.sft_data, sft, seed_model(run, "sft", s), show_progress=False).global_step
            done[f"grpo-seed{s}"] = train_grpo(
                str(run.base), prompts, grpo, seed_model(run, "grpo", s), prompt_set="world-math-train", show_progress=False
            ).global_step
        return {"steps": done}

    run.phase("seeds", len(extra) * (sft_steps + grpo_steps), "steps", work, lambda: sum(count_log_steps(p)() for p in logs))


def phase_trajectory(run: DemoRun, budget: DynamicsBudget) -> None:
    main = study_spec(run)
    new_models = 2 * (budget.extra_seeds + 6)  # about six checkpoints per method, the seed models
    start = count_store_rows(run.paths.store)()

    def work() -> dict[str, Any]:
        dynamics_folder(run).mkdir(exist_ok=True)
        spec, _ = trajectory_study(run, main)
        evaluate_trajectory(spec, run.paths.store, show_progress=False, argv=["transferlab", "demo", "--dynamics"])
        with Store(run.paths.store) as store:
            run_study(seeds_study(run, main, budget), store, show_progress=False, argv=["transferlab", "demo", "--dynamics"])
        return {"trajectory": spec.name, "models": len(spec.models) - 1}

    total = 2 * new_models * len(main.benchmarks) * (main.limit or 1)
    run.phase("trajectory", total, "rows", work, lambda: count_store_rows(run.paths.store)() - start)


def phase_drift_steps(run: DemoRun, budget: DynamicsBudget) -> None:
    main = study_spec(run)
    checkpoints = len(find_run(run.paths.sft).checkpoints) + len(find_run(run.paths.grpo).checkpoints)
    done = [0]

    def tick(_: str) -> None:
        done[0] += 1
        run.display.advance("drift-steps", done[0])

    def work() -> dict[str, Any]:
        spec, _ = trajectory_study(run, main)
        records = checkpoint_drift(spec, run.paths.store, dynamics_folder(run) / "drift", n=budget.drift_items, batch_size=run.budget.batch_size, tick=tick)
        return {"checkpoints": len(records)}

    run.phase("drift-steps", checkpoints, "checkpoints", work)


def dynamics_sections(run: DemoRun, budget: DynamicsBudget) -> list[Any]:
    """Compute trajectory, seeds and drift against transfer; write their JSON; return their report sections."""
    main = study_spec(run)
    folder = dynamics_folder(run)
    spec, runs = trajectory_study(run, main)
    n, seed = run.budget.n_resamples, run.seed
    trajectory = analyse_trajectory(run.paths.store, spec, runs, n_resamples=n, seed=seed)
    drift = checkpoint_drift(spec, run.paths.store, folder / "drift", n=budget.drift_items, batch_size=run.budget.batch_size)
    points = drift_points(trajectory, drift)
    correlations = drift_transfer(points, n_resamples=n, seed=seed)
    seeds_spec = seeds_study(run, main, budget)
    with Store(run.paths.store, readonly=True) as store:
        _, keys = study_for_store(store, name=seeds_spec.name)
        seeds = analyse_seeds(store, seeds_spec, keys, n_resamples=n, seed=seed)
    write_json_atomic(folder / "trajectory.json", trajectory)
    write_json_atomic(folder / "seeds.json", seeds)
    write_json_atomic(folder / "drift_transfer.json", {"points": points, "correlations": correlations, "n": budget.drift_items})
    return [trajectory_section(trajectory), drift_transfer_section(points, correlations, trajectory["confidence"], budget.drift_items), seeds_section(seeds)]


def phase_dynamics_report(run: DemoRun, budget: DynamicsBudget) -> None:
    def work() -> dict[str, Any]:
        index = write_report(run, study_spec(run), dynamics_sections(run, budget))
        return {"report": str(index), "dynamics": str(dynamics_folder(run))}

    run.phase("dynamics", 1, "step", work)


DYNAMICS_PHASES: tuple[Callable[[DemoRun, DynamicsBudget], None], ...] = (phase_seeds, phase_trajectory, phase_drift_steps, phase_dynamics_report)
"""The phases ``--dynamics`` adds after :data:`~transferlab.demo.phases.PHASES`, in order."""
