"""The seven phases of ``transferlab demo`` (see :mod:`transferlab.demo.run`), one function each,
run in the order of :data:`PHASES`.

Each calls :meth:`transferlab.demo.plan.DemoRun.phase` with the work to do, how much of it there is
and how to follow it, so the display shows its progress and a finished phase is reused on a rerun.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from transferlab.demo.data import build_sft_data, families, group_of_family, grpo_prompts, math_families
from transferlab.demo.plan import DemoRun, presets
from transferlab.demo.progress import count_log_steps, count_store_rows
from transferlab.demo.report import write_report
from transferlab.demo.study import analyse, cell_items, latent_drift, run_evaluation, spec_dict, ti_record, token_drift, write_spec
from transferlab.study.spec import StudySpec
from transferlab.train.grpo import train_grpo
from transferlab.train.sft import train_sft

__all__ = ["PHASES", "phase_data", "phase_drift", "phase_eval", "phase_grpo", "phase_report", "phase_sft", "phase_ti"]


def _spec(run: DemoRun) -> StudySpec:
    """The study spec (written to ``OUT/study.yaml``): base, SFT and GRPO on every family."""
    names = families()
    data = spec_dict(
        run.base,
        run.paths.sft,
        run.paths.grpo,
        names,
        {f: group_of_family(f) for f in names},
        limit=run.budget.eval_items,
        max_new_tokens=run.budget.max_new_tokens,
        seed=run.seed,
        batch_size=run.budget.batch_size,
    )
    return write_spec(data, run.paths.spec)


def phase_data(run: DemoRun) -> None:
    def work() -> dict[str, Any]:
        run.paths.sft_data.parent.mkdir(parents=True, exist_ok=True)
        summary = build_sft_data(run.base, math_families(), run.budget.train_items, run.seed, run.paths.sft_data)
        return summary.to_dict()

    run.phase("data", 1, "file", work)


def phase_sft(run: DemoRun) -> None:
    preset, _ = presets(run.budget, run.seed)

    def work() -> dict[str, Any]:
        result = train_sft(str(run.base), run.paths.sft_data, preset, run.paths.sft, show_progress=False)
        return {"steps": result.global_step, "resumed_from": result.resumed_from, "log": str(result.log_path)}

    run.phase("sft", preset.max_steps, "steps", work, count_log_steps(run.paths.sft / "train_log.jsonl"))


def phase_grpo(run: DemoRun) -> None:
    _, preset = presets(run.budget, run.seed)

    def work() -> dict[str, Any]:
        prompts = grpo_prompts(math_families(), run.budget.train_items, run.seed)
        result = train_grpo(str(run.base), prompts, preset, run.paths.grpo, prompt_set="world-math-train", show_progress=False)
        return {"steps": result.global_step, "prompts": len(prompts), "resumed_from": result.resumed_from, "log": str(result.log_path)}

    run.phase("grpo", preset.max_steps, "steps", work, count_log_steps(run.paths.grpo / "train_log.jsonl"))


def phase_eval(run: DemoRun) -> None:
    total = 2 * 3 * len(families()) * run.budget.eval_items  # completions, then their scores

    def work() -> dict[str, Any]:
        spec = _spec(run)
        run_evaluation(spec, run.paths.store)
        return {"spec": str(run.paths.spec), "store": str(run.paths.store)}

    run.phase("eval", total, "rows", work, count_store_rows(run.paths.store))


def phase_ti(run: DemoRun) -> None:
    def work() -> dict[str, Any]:
        spec = _spec(run)
        analysis = analyse(spec, run.paths.store, n_resamples=run.budget.n_resamples, seed=run.seed)
        record = ti_record(analysis, cell_items(spec, run.paths.store), n_resamples=run.budget.n_resamples, seed=run.seed)
        run.paths.ti.write_text(json.dumps(record, indent=2, default=float), encoding="utf-8")
        return {"ti": str(run.paths.ti)}

    run.phase("ti", 1, "step", work)


def phase_drift(run: DemoRun) -> None:
    total = 2 * 2 * len(families())
    done = [0]

    def tick() -> None:
        done[0] += 1
        run.display.advance("drift", done[0])

    def work() -> dict[str, Any]:
        spec = _spec(run)
        run.paths.drift.mkdir(parents=True, exist_ok=True)
        latent_drift(spec, run.paths.drift, run.budget.drift_items, run.budget.batch_size, tick)
        token_drift(spec, run.paths.store, run.paths.drift, run.budget.drift_items, run.budget.batch_size, tick)
        return {"drift": str(run.paths.drift)}

    run.phase("drift", total, "analyses", work)


def phase_report(run: DemoRun) -> None:
    def work() -> dict[str, Any]:
        index = write_report(run, _spec(run))
        return {"report": str(index)}

    run.phase("report", 1, "step", work)


Phase = Callable[[DemoRun], None]

PHASES: tuple[Phase, ...] = (phase_data, phase_sft, phase_grpo, phase_eval, phase_ti, phase_drift, phase_report)
"""Every phase, in the order a run takes them."""
