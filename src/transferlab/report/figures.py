"""The report's figures as PNG bytes (matplotlib, no pyplot state, no display needed).

- :func:`ti_scatter`: TI_other against TI_non per tuned model, coloured by training method;
- :func:`delta_bars`: per-benchmark Δ with CIs for each tuned model;
- :func:`generation_bars`: truncation rate and tokens per answer for each model.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from transferlab.errors import missing_extra
from transferlab.groups import GROUPS
from transferlab.transfer.analysis import StudyAnalysis, is_finite

TRAINING_COLOURS = {"RL": "#1f77b4", "SFT": "#d62728", "other": "#7f7f7f", "base": "#2ca02c"}
GROUP_COLOURS = {"math": "#9467bd", "other": "#ff7f0e", "non": "#17becf"}
DPI = 110


@dataclass(frozen=True)
class FigureFile:
    """One figure: a file stem (``figures/NAME.png``), the PNG bytes and a caption."""

    name: str
    png: bytes
    caption: str


def _new_figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise missing_extra("matplotlib", "report") from err
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def ti_scatter(a: StudyAnalysis) -> FigureFile:
    """TI_other (x) against TI_non (y), one point per tuned model, with CI whiskers."""
    fig = _new_figure(6.0, 4.8)
    ax = fig.add_subplot()
    ax.axhline(0, color="#bbbbbb", lw=0.8)
    ax.axvline(0, color="#bbbbbb", lw=0.8)
    left_out, drawn = [], set()
    for p in a.pairs:
        row = p.ti.get(a.primary_version)
        x = row.point.ti.get("other") if row and row.point else None
        y = row.point.ti.get("non") if row and row.point else None
        if row is None or not (is_finite(x) and is_finite(y)):
            left_out.append(p.tuned)
            continue
        colour = TRAINING_COLOURS.get(p.training, "#000000")
        xerr = _err(x, row.ci.get("other"))
        yerr = _err(y, row.ci.get("non"))
        label = p.training if p.training not in drawn else None
        drawn.add(p.training)
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o", color=colour, ecolor=colour, alpha=0.9, capsize=3, label=label)
        ax.annotate(p.tuned, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(f"TI_other ({a.primary_version}, %)")
    ax.set_ylabel(f"TI_non ({a.primary_version}, %)")
    ax.set_title("Transfer of the math gain")
    if drawn:
        ax.legend(title="training", fontsize=8)
    if left_out:
        ax.text(0.01, 0.01, "TI undefined (not drawn): " + ", ".join(left_out), transform=ax.transAxes, fontsize=7, va="bottom", wrap=True)
    caption = f"TI_other against TI_non per tuned model, coloured by training method; whiskers: {int(a.confidence * 100)}% CI."
    if left_out:
        caption += f" Not drawn (TI undefined): {', '.join(left_out)}."
    return FigureFile("ti_scatter", _png(fig), caption)


def _err(value: float, ci: tuple[float, float] | None) -> list[list[float]] | None:
    if not ci or not (is_finite(ci[0]) and is_finite(ci[1])):
        return None
    return [[max(0.0, value - ci[0])], [max(0.0, ci[1] - value)]]


def delta_bars(a: StudyAnalysis) -> list[FigureFile]:
    """One bar chart per tuned model: Δ (points) per benchmark, coloured by group, with CIs."""
    out = []
    for i, p in enumerate(a.pairs):
        fig = _new_figure(max(4.0, 0.6 * len(p.deltas) + 2.0), 3.4)
        ax = fig.add_subplot()
        names = [d.benchmark for d in p.deltas]
        values = [d.delta for d in p.deltas]
        colours = [GROUP_COLOURS[d.group] for d in p.deltas]
        errs = None
        bounds = [(d.delta, d.low, d.high) for d in p.deltas]
        if bounds and all(is_finite(low) and is_finite(high) for _, low, high in bounds):
            errs = [[max(0.0, v - (low or 0.0)) for v, low, _ in bounds], [max(0.0, (high or 0.0) - v) for v, _, high in bounds]]
        ax.bar(range(len(names)), values, color=colours, yerr=errs, capsize=3)
        ax.axhline(0, color="#444444", lw=0.8)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("Δ (points)")
        ax.set_title(f"{p.tuned} − {p.base} ({p.training})", fontsize=9)
        for g in GROUPS:
            ax.bar([0], [0], color=GROUP_COLOURS[g], label=g)
        ax.legend(fontsize=7, ncols=3)
        out.append(FigureFile(f"delta_{i:02d}", _png(fig), f"Per-benchmark change of {p.tuned} against {p.base}, coloured by group."))
    return out


def generation_bars(a: StudyAnalysis) -> FigureFile:
    """Two panels: truncation rate (%) and mean tokens per answer, per model (mean over benchmarks)."""
    fig = _new_figure(max(5.0, 0.7 * len(a.models) + 2.5), 3.4)
    left, right = fig.subplots(1, 2)
    names, trunc, tokens, colours = [], [], [], []
    for m in a.models:
        cells = [a.cells[(m.name, b)] for b in a.benchmarks if (m.name, b) in a.cells]
        t = [c.truncated_rate for c in cells if is_finite(c.truncated_rate)]
        k = [c.mean_tokens for c in cells if is_finite(c.mean_tokens)]
        names.append(m.name)
        trunc.append(sum(t) / len(t) if t else 0.0)
        tokens.append(sum(k) / len(k) if k else 0.0)
        colours.append(TRAINING_COLOURS.get(m.training, "#000000"))
    for ax, values, label in ((left, trunc, "truncated (%)"), (right, tokens, "tokens per answer")):
        ax.bar(range(len(names)), values, color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(label)
    fig.suptitle("Truncation and answer length (mean over benchmarks)", fontsize=8)
    return FigureFile("generation", _png(fig), "Truncation rate and tokens per answer per model, coloured by training method.")


def all_figures(a: StudyAnalysis) -> list[FigureFile]:
    """Every figure of the report."""
    figures = [ti_scatter(a), *delta_bars(a)]
    if a.with_intervals:
        figures.append(generation_bars(a))
    return figures
