"""The figures of transfer dynamics (PNG bytes, matplotlib without pyplot), from the JSON-ready
results of :mod:`transferlab.dynamics`:

- :func:`trajectory_figure`: per-group accuracy and TI against training progress, every run on one
  figure, with CIs, the base's level, and the first step each group fell significantly below it;
- :func:`drift_transfer_figure`: TI_non and Δ_non against exact token KL and PCA shift, one point
  per checkpoint, with Spearman's ρ and its bootstrap CI;
- :func:`seeds_figure`: per seed group and group, each seed's Δ beside the items-only and the
  hierarchical (seeds, then items) intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transferlab.groups import GROUPS
from transferlab.report.figures import GROUP_COLOURS, TRAINING_COLOURS, FigureFile, _new_figure, _png
from transferlab.transfer.ti import TRANSFER_GROUPS

MEASURE_LABELS = {"exact_kl": "exact token KL (nats/token)", "pca_shift": "PCA shift (paper distance)"}
OUTCOME_LABELS = {"ti_non": "TI_non (%)", "delta_non": "Δ non (points)"}
_STYLES = ("-", "--", ":", "-.")


def _run_styles(runs: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """(colour by training method, line style by order within the method) of each run."""
    seen: dict[str, int] = {}
    out = {}
    for label, run in runs.items():
        k = seen.get(run["training"], 0)
        seen[run["training"]] = k + 1
        out[label] = (TRAINING_COLOURS.get(run["training"], "#000000"), _STYLES[k % len(_STYLES)])
    return out


def _progress(step: int, final: int) -> float:
    return 100.0 * step / final if final else 0.0


def _accuracy_panel(ax: Any, g: str, runs: Mapping[str, Any], styles: Mapping[str, tuple[str, str]]) -> None:
    base = next((p["accuracy"].get(g) for r in runs.values() for p in r["points"] if p["step"] == 0), None)
    if base is not None:
        ax.axhspan(base[1], base[2], color="#dddddd", alpha=0.6, lw=0)
        ax.axhline(base[0], color="#555555", lw=0.8, ls="--")
    for label, run in runs.items():
        colour, style = styles[label]
        pts = [p for p in run["points"] if g in p["accuracy"]]
        xs = [_progress(p["step"], run["final_step"]) for p in pts]
        ax.plot(
            xs, [p["accuracy"][g][0] for p in pts], color=colour, ls=style, marker="o", ms=3, label=f"{label} ({run['training']}, {run['final_step']} steps)"
        )
        ax.fill_between(xs, [p["accuracy"][g][1] for p in pts], [p["accuracy"][g][2] for p in pts], color=colour, alpha=0.15, lw=0)
        drop = run["first_drop"].get(g)
        hit = next((p for p in pts if p["step"] == drop), None)
        if hit is not None:
            x = _progress(drop, run["final_step"])
            ax.axvline(x, color=colour, ls=":", lw=1)
            ax.plot([x], [hit["accuracy"][g][0]], marker="v", ms=9, color=colour, mec="black")
    ax.set_title(f"{g}: accuracy (%)", fontsize=9)


def _ti_panel(ax: Any, g: str, runs: Mapping[str, Any], styles: Mapping[str, tuple[str, str]]) -> int:
    ax.axhline(0, color="#bbbbbb", lw=0.8)
    ax.axhline(100, color="#bbbbbb", lw=0.8, ls="--")
    undefined = 0
    for label, run in runs.items():
        colour, style = styles[label]
        pts = [p for p in run["points"] if "ti" in p]
        shown = [p for p in pts if p["ti"][g]["value"] is not None]
        undefined += len(pts) - len(shown)
        xs = [_progress(p["step"], run["final_step"]) for p in shown]
        ys = [p["ti"][g]["value"] for p in shown]
        lows = [max(0.0, y - (p["ti"][g]["ci"] or [y, y])[0]) for p, y in zip(shown, ys)]
        highs = [max(0.0, (p["ti"][g]["ci"] or [y, y])[1] - y) for p, y in zip(shown, ys)]
        if shown:
            ax.errorbar(xs, ys, yerr=[lows, highs], color=colour, ls=style, marker="o", ms=3, capsize=2)
    if undefined == sum(len([p for p in r["points"] if "ti" in p]) for r in runs.values()):
        ax.text(0.5, 0.5, "TI undefined at every checkpoint\n(the math gain's CI contains 0)", ha="center", va="center", fontsize=8, transform=ax.transAxes)
    ax.set_title(f"TI_{g} (%)", fontsize=9)
    return undefined


def trajectory_figure(trajectory: Mapping[str, Any]) -> FigureFile:
    """Top row: accuracy of each group against training progress (share of each run's steps),
    with CI bands, the base's level (dashed, grey band: its CI) and a triangle at the first step the
    group fell significantly below the base; bottom row: TI_other and TI_non with CI whiskers."""
    runs = trajectory["runs"]
    styles = _run_styles(runs)
    fig = _new_figure(11.0, 6.2)
    axes = fig.subplots(2, 3)
    for ax, g in zip(axes[0], GROUPS):
        _accuracy_panel(ax, g, runs, styles)
    undefined = max(_ti_panel(ax, g, runs, styles) for ax, g in zip(axes[1], TRANSFER_GROUPS))
    legend = axes[1][2]
    legend.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    legend.legend(handles, labels, loc="upper left", fontsize=8, title="run")
    drops = [f"{label}, {g}: step {step}" for label, run in runs.items() for g, step in run["first_drop"].items() if step is not None]
    text = "first significant drop (▼):\n" + ("\n".join(drops) if drops else "none")
    text += f"\n\ntest: paired sign-flip on the group's items;\nHolm over each run's steps, α = {trajectory['alpha']}"
    if undefined:
        text += f"\n\nTI not drawn where undefined\n(math gain's CI contains 0): {undefined} checkpoint(s)"
    legend.text(0.0, 0.5, text, fontsize=7, va="top", transform=legend.transAxes)
    for ax in (*axes[0], *axes[1][:2]):
        ax.set_xlim(-5, 105)
        ax.set_xlabel("training progress (% of the run's steps)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Transfer during training ({trajectory['version']}; bands and whiskers: {int(100 * trajectory['confidence'])}% CI)", fontsize=10)
    caption = (
        "Per-group accuracy and TI of every checkpoint against its run's progress (step 0: the base). "
        f"Bands and whiskers: {int(100 * trajectory['confidence'])}% paired-bootstrap CIs; ▼: the first step the group is significantly below the base "
        f"({trajectory['correction']})."
    )
    return FigureFile("trajectory", _png(fig), caption)


def _fmt_corr(corr: Mapping[str, Any] | None) -> str:
    if not corr or corr.get("rho") is None:
        return f"ρ undefined (n = {corr.get('n', 0) if corr else 0})"
    low, high = corr.get("low"), corr.get("high")
    ci = f" [{low:+.2f}, {high:+.2f}]" if low is not None and high is not None else ""
    return f"ρ = {corr['rho']:+.2f}{ci}, n = {corr['n']}"


def drift_transfer_figure(points: Sequence[Mapping[str, Any]], correlations: Mapping[str, Any], confidence: float) -> FigureFile:
    """TI_non (top) and Δ_non (bottom) against exact KL (left) and PCA shift (right), one point per
    checkpoint labelled by its step, coloured by run; each panel's Spearman ρ with its CI."""
    fig = _new_figure(9.0, 6.6)
    axes = fig.subplots(2, 2)
    runs = {p["run"]: {"training": p["training"]} for p in points}
    styles = _run_styles(runs)
    markers = dict(zip(runs, "os^Dv<>"))
    for row, y in zip(axes, OUTCOME_LABELS):
        for ax, x in zip(row, MEASURE_LABELS):
            for label in runs:
                pts = [p for p in points if p["run"] == label and p[x] is not None and p[y] is not None]
                ax.scatter([p[x] for p in pts], [p[y] for p in pts], color=styles[label][0], marker=markers[label], s=22, label=label)
                for p in pts:
                    ax.annotate(str(p["step"]), (p[x], p[y]), textcoords="offset points", xytext=(3, 3), fontsize=6)
            ax.axhline(0, color="#bbbbbb", lw=0.8)
            ax.set_xlabel(MEASURE_LABELS[x], fontsize=8)
            ax.set_ylabel(OUTCOME_LABELS[y], fontsize=8)
            ax.set_title(f"Spearman {_fmt_corr(correlations.get(f'{y}~{x}'))}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, title="run")
    fig.suptitle(f"Drift against transfer, every checkpoint ({int(100 * confidence)}% bootstrap CI of ρ, resampled within each run)", fontsize=9)
    caption = (
        "TI_non and Δ_non against the exact token KL and the PCA shift from the base, one point per checkpoint (labelled by step); "
        "Spearman's ρ with its percentile bootstrap CI over the checkpoints, resampled within each run. TI_non is drawn only where defined."
    )
    return FigureFile("drift_transfer", _png(fig), caption)


def seeds_figure(seeds: Mapping[str, Any]) -> FigureFile:
    """Per seed group (columns) and group (x): each seed's Δ (dots), the items-only interval (thin,
    left) and the hierarchical interval (thick, right) of the seed mean."""
    groups = seeds["groups"]
    fig = _new_figure(max(4.5, 3.4 * len(groups)), 3.6)
    axes = fig.subplots(1, max(1, len(groups)), squeeze=False)[0]
    for ax, (name, result) in zip(axes, groups.items()):
        for i, g in enumerate(GROUPS):
            spread = result["group_delta"].get(g)
            if spread is None:
                continue
            colour = GROUP_COLOURS[g]
            ax.scatter([i] * len(spread["per_seed"]), spread["per_seed"], color=colour, s=14, zorder=3)
            for dx, key, width in ((-0.18, "items_ci", 1.2), (0.18, "hierarchical_ci", 3.5)):
                low, high = spread[key]
                if low is not None and high is not None:
                    ax.plot([i + dx, i + dx], [low, high], color=colour, lw=width, solid_capstyle="butt")
            ax.plot([i - 0.3, i + 0.3], [spread["mean"], spread["mean"]], color="black", lw=1)
        ax.axhline(0, color="#bbbbbb", lw=0.8)
        ax.set_xticks(range(len(GROUPS)), GROUPS, fontsize=8)
        ax.set_title(f"{name} ({result['training']}, {len(result['seeds'])} seeds)", fontsize=9)
        ax.set_ylabel("Δ vs base (points)", fontsize=8)
    conf = int(100 * seeds["confidence"])
    fig.suptitle(f"Seeds: each seed (dots), items-only {conf}% CI (thin), seeds-then-items {conf}% CI (thick)", fontsize=8)
    caption = (
        "Group deltas of each seed group: every seed's own Δ (dots), the seed mean (black), the bootstrap over items with the seeds fixed (thin bar) "
        "and the hierarchical bootstrap, seeds then items (thick bar)."
    )
    return FigureFile("seeds", _png(fig), caption)
