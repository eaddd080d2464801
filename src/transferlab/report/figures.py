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
from transferlab.report.tables import training_label
from transferlab.transfer.analysis import PairResult, StudyAnalysis, TIRow, is_finite

TRAINING_COLOURS = {"RL": "#1f77b4", "SFT": "#d62728", "other": "#7f7f7f", "base": "#2ca02c"}
GROUP_COLOURS = {"math": "#9467bd", "other": "#ff7f0e", "non": "#17becf"}
DPI = 110


@dataclass(frozen=True)
class FigureFile:
    """One figure: a file stem (``figures/NAME.png``), the PNG bytes and a caption. A figure with
    nothing to draw has no bytes: its caption is the one sentence shown instead."""

    name: str
    png: bytes
    caption: str

    @property
    def empty(self) -> bool:
        """True when there was nothing to draw (the caption says why)."""
        return not self.png


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
    """TI_other (x) against TI_non (y), one point per tuned model, with CI whiskers; no figure, one
    sentence instead, when no tuned model has both TIs defined."""
    points: list[tuple[PairResult, TIRow | None, float | None, float | None]] = []
    for p in a.pairs:
        row = p.ti.get(a.primary_version)
        x = row.point.ti.get("other") if row and row.point else None
        y = row.point.ti.get("non") if row and row.point else None
        points.append((p, row, x, y))
    drawable = [(p, row, x, y) for p, row, x, y in points if row is not None and is_finite(x) and is_finite(y)]
    left_out = [p.tuned for p, row, x, y in points if not (row is not None and is_finite(x) and is_finite(y))]
    if not drawable:
        why = (
            "no tuned model"
            if not a.pairs
            else f"TI {a.primary_version} is undefined for every tuned model ({', '.join(left_out)}): no math gain clearly above zero"
        )
        return FigureFile("ti_scatter", b"", f"No TI scatter: {why}.")
    fig = _new_figure(6.0, 4.8)
    ax = fig.add_subplot()
    ax.axhline(0, color="#bbbbbb", lw=0.8)
    ax.axvline(0, color="#bbbbbb", lw=0.8)
    drawn: set[str] = set()
    for p, row, x, y in drawable:
        assert row is not None and x is not None and y is not None  # drawable: both TIs finite
        colour = TRAINING_COLOURS.get(p.training, "#000000")
        label = training_label(p.training) if p.training not in drawn else None
        drawn.add(p.training)
        ax.errorbar(
            [x],
            [y],
            xerr=_err(x, row.ci.get("other")),
            yerr=_err(y, row.ci.get("non")),
            fmt="o",
            color=colour,
            ecolor=colour,
            alpha=0.9,
            capsize=3,
            label=label,
        )
        ax.annotate(p.tuned, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(f"TI_other ({a.primary_version}, %)")
    ax.set_ylabel(f"TI_non ({a.primary_version}, %)")
    ax.set_title("Transfer of the math gain")
    ax.legend(title="training method", fontsize=8)
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
        order = {b: i for i, b in enumerate(a.benchmarks)}  # the tables' order
        deltas = sorted(p.deltas, key=lambda d: order.get(d.benchmark, len(order)))
        names = [d.benchmark for d in deltas]
        values = [d.delta for d in deltas]
        colours = [GROUP_COLOURS[d.group] for d in deltas]
        errs = None
        bounds = [(d.delta, d.low, d.high) for d in deltas]
        if bounds and all(is_finite(low) and is_finite(high) for _, low, high in bounds):
            errs = [[max(0.0, v - (low or 0.0)) for v, low, _ in bounds], [max(0.0, (high or 0.0) - v) for v, _, high in bounds]]
        ax.bar(range(len(names)), values, color=colours, yerr=errs, capsize=3)
        ax.axhline(0, color="#444444", lw=0.8)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("Δ (points)")
        ax.set_title(f"{p.tuned} − {p.base} (training method: {training_label(p.training)})", fontsize=9)
        for g in GROUPS:
            ax.bar([0], [0], color=GROUP_COLOURS[g], label=f"{g} group")
        ax.legend(fontsize=7, ncols=3)
        out.append(FigureFile(f"delta_{i:02d}", _png(fig), f"Per-benchmark change of {p.tuned} against {p.base}, coloured by group."))
    return out


def generation_bars(a: StudyAnalysis) -> FigureFile:
    """Truncation rate (%) and mean tokens per answer, per model (mean over benchmarks), coloured by
    training method. A panel with nothing to show (no answer truncated; no token counts) is left
    out and said in the caption; with neither, no figure at all."""
    names, trunc, tokens, colours = [], [], [], []
    for m in a.models:
        cells = [a.cells[(m.name, b)] for b in a.benchmarks if (m.name, b) in a.cells]
        t = [float(c.truncated_rate) for c in cells if c.truncated_rate is not None and is_finite(c.truncated_rate)]
        k = [float(c.mean_tokens) for c in cells if c.mean_tokens is not None and is_finite(c.mean_tokens)]
        names.append(m.name)
        trunc.append(sum(t) / len(t) if t else 0.0)
        tokens.append(sum(k) / len(k) if k else 0.0)
        colours.append(TRAINING_COLOURS.get(m.training, "#000000"))
    panels = [(v, label) for v, label in ((trunc, "truncated (%)"), (tokens, "tokens per answer")) if any(x > 0 for x in v)]
    said = [] if any(x > 0 for x in trunc) else ["no answer hit the token budget (0% truncated for every model)"]
    said += [] if any(x > 0 for x in tokens) else ["no token counts were stored"]
    if not panels:
        return FigureFile("generation", b"", "No generation figure: " + "; ".join(said) + ".")
    fig = _new_figure(max(3.5, 0.7 * len(a.models) + 1.5) * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (values, label) in zip(axes, panels):
        ax.bar(range(len(names)), values, color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(label)
    fig.suptitle("Truncation and answer length (mean over benchmarks)" if len(panels) == 2 else f"{panels[0][1]} (mean over benchmarks)", fontsize=8)
    caption = "Per model (colour: training method): " + " and ".join(label for _, label in panels) + ", mean over benchmarks."
    if said:
        caption += " Not drawn: " + "; ".join(said) + "."
    return FigureFile("generation", _png(fig), caption)


def all_figures(a: StudyAnalysis) -> list[FigureFile]:
    """Every figure of the report."""
    figures = [ti_scatter(a), *delta_bars(a)]
    if a.with_intervals:
        figures.append(generation_bars(a))
    return figures
