"""The demo's report: the study report (scores, deltas, TI with CIs), the drift section, and a
section on how the demo ran (data, presets, phase times, per-group accuracy)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from transferlab.demo.plan import DemoRun
from transferlab.demo.study import analyse
from transferlab.groups import GROUPS
from transferlab.report.build import build_report
from transferlab.report.drift import drift_section
from transferlab.report.html import Section
from transferlab.report.tables import Table, num
from transferlab.study.spec import StudySpec

HONESTY = (
    "The mini-world and the training presets were fixed without looking at transfer: the presets were chosen "
    "on math results alone, and are the same for every run. Whatever transfer the tuned models show is what "
    "this report says, with its intervals; where the math gain is not clearly above zero, TI is reported as "
    "undefined rather than as a number."
)


def _delta(entry: dict[str, Any]) -> str:
    low, high = entry["ci"] or (None, None)
    return num(entry["delta"], low, high, sign=True)


def group_table(ti: dict[str, Any]) -> Table:
    """Per-group accuracy (%) of every model, with 95% CIs, and each tuned model's group deltas."""
    rows = []
    for model, by_group in ti["accuracy"].items():
        cells = [num(by_group[g]["accuracy"], *by_group[g]["ci"]) if g in by_group else "—" for g in GROUPS]
        pair = ti["pairs"].get(model)
        deltas = [_delta(pair["group_delta"][g]) if pair and g in pair["group_delta"] else "—" for g in GROUPS]
        rows.append((model, *cells, *deltas))
    headers = ("model", *(f"{g} accuracy" for g in GROUPS), *(f"Δ {g} vs base" for g in GROUPS))
    return Table(
        "Accuracy by group", headers, tuple(rows), "mean over the group's families of the item accuracy, percent, 95% bootstrap CI; Δ in points, paired"
    )


def run_table(run: DemoRun) -> Table:
    """Phase wall times (seconds; 0 when reused from an earlier run) and what each produced."""
    rows = tuple((name, f"{run.display.times.get(name, 0.0):.1f}", "reused" if name in run.display.reused else "run now") for name in run.display.times)
    return Table("Phases", ("phase", "seconds", "status"), rows)


def preset_table(run: DemoRun) -> Table:
    """Every preset value that differs from the ``tiny`` presets (the demo's documented overrides)."""
    rows = tuple((kind, k, v) for kind, pairs in (("sft", run.budget.sft), ("grpo", run.budget.grpo)) for k, v in pairs)
    return Table("Training presets: tiny, with these overrides", ("trainer", "setting", "value"), rows + (("both", "seed", str(run.seed)),))


def demo_section(run: DemoRun, ti: dict[str, Any]) -> Section:
    """How the demo ran: the honesty note, data, presets, per-group accuracy, phase times."""
    data = run.info.get("data", {})
    intro = (
        f"Budget {run.budget.name}: {run.budget.train_items} train items per math family, {run.budget.eval_items} held-out items "
        f"per family, greedy decoding up to {run.budget.max_new_tokens} tokens. SFT data: {sum(data.get('kept', {}).values())} of "
        f"{sum(data.get('written', {}).values())} teacher traces kept by the math scorer."
    )
    tables = [group_table(ti), preset_table(run), run_table(run)]

    body = f"<p>{html.escape(HONESTY)}</p><p>{html.escape(intro)}</p>" + "".join(t.to_html() for t in tables)
    md = HONESTY + "\n\n" + intro + "\n\n" + "\n\n".join(t.to_markdown() for t in tables)
    return Section("The demo run", body, md)


def write_report(run: DemoRun, spec: StudySpec) -> Path:
    """Build ``OUT/report/`` from the store, ``OUT/ti.json`` and ``OUT/drift/``; returns index.html."""
    analysis = analyse(spec, run.paths.store, n_resamples=run.budget.n_resamples, seed=run.seed)
    ti = json.loads(run.paths.ti.read_text(encoding="utf-8"))
    extra = [demo_section(run, ti)]
    drift = drift_section(run.paths.drift)
    if drift is not None:
        extra.append(drift)
    return build_report(analysis, run.paths.report, extra_sections=extra)
