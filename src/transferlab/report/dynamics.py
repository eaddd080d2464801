"""The report's sections on transfer dynamics: the trajectory, drift against transfer, and seeds.

Each takes the JSON-ready results of :mod:`transferlab.dynamics` and returns a
:class:`~transferlab.report.html.Section` for :func:`~transferlab.report.build.build_report`'s
``extra_sections``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from transferlab.groups import GROUPS
from transferlab.report.dynamics_figures import MEASURE_LABELS, OUTCOME_LABELS, drift_transfer_figure, seeds_figure, trajectory_figure
from transferlab.report.html import Section
from transferlab.report.tables import DASH, Table, num
from transferlab.transfer.ti import TRANSFER_GROUPS


def _section(title: str, intro: str, tables: Sequence[Table], figures: Sequence[Any]) -> Section:
    body = f"<p>{html.escape(intro)}</p>" + "".join(t.to_html() for t in tables)
    md = intro + "\n\n" + "\n\n".join(t.to_markdown() for t in tables)
    return Section(title, body, md, tuple(figures))


def _triple(values: Sequence[float | None] | None, sign: bool = False) -> str:
    return DASH if not values else num(values[0], values[1], values[2], sign=sign)


def _p(value: float | None) -> str:
    return DASH if value is None else f"{value:.3g}"


def trajectory_table(trajectory: Mapping[str, Any]) -> Table:
    """One row per (run, step): per group accuracy and Δ with CIs, the Holm-corrected p, and TI."""
    rows = []
    for label, run in trajectory["runs"].items():
        for p in run["points"]:
            cells = [_triple(p["accuracy"].get(g)) for g in GROUPS]
            deltas = [_triple(p.get("delta", {}).get(g), sign=True) for g in GROUPS]
            ps = [_p(p.get("p_holm", {}).get(g)) for g in GROUPS]
            ti = [_triple([p["ti"][g]["value"], *(p["ti"][g]["ci"] or [None, None])]) if "ti" in p else DASH for g in TRANSFER_GROUPS]
            rows.append((label, str(p["step"]), *cells, *deltas, *ps, *ti))
    headers = (
        "run",
        "step",
        *(f"{g} acc." for g in GROUPS),
        *(f"Δ {g}" for g in GROUPS),
        *(f"p {g} (Holm)" for g in GROUPS),
        *(f"TI_{g}" for g in TRANSFER_GROUPS),
    )
    conf = int(100 * trajectory["confidence"])
    note = f"accuracy in percent, Δ in points against the base (step 0), {conf}% paired-bootstrap CIs; p: {trajectory['test']}, {trajectory['correction']}"
    return Table("Every checkpoint against the base", headers, tuple(rows), note)


def first_drop_table(trajectory: Mapping[str, Any]) -> Table:
    """The first step each group of each run fell significantly below the base."""
    rows = tuple(
        (label, run["training"], str(run["final_step"]), *(str(run["first_drop"].get(g)) if run["first_drop"].get(g) is not None else "never" for g in GROUPS))
        for label, run in trajectory["runs"].items()
    )
    return Table(f"First step significantly below the base (α = {trajectory['alpha']})", ("run", "training", "steps", *GROUPS), rows, trajectory["correction"])


def trajectory_section(trajectory: Mapping[str, Any]) -> Section:
    """Transfer during training: the figure, the first drops, every checkpoint's numbers."""
    intro = (
        f"Every kept checkpoint evaluated like any model (study {trajectory['study']!r}, TI {trajectory['version']}, "
        f"σ held at the study's value for every step). A group 'falls below the base' at the first step whose {trajectory['test']} "
        f"has a {trajectory['correction']} p-value below {trajectory['alpha']} with a negative Δ."
    )
    return _section("Transfer during training", intro, [first_drop_table(trajectory), trajectory_table(trajectory)], [trajectory_figure(trajectory)])


def correlation_table(correlations: Mapping[str, Any]) -> Table:
    """Spearman's ρ with its CI for every (outcome, drift measure)."""
    rows = []
    for y, y_label in OUTCOME_LABELS.items():
        for x, x_label in MEASURE_LABELS.items():
            c = correlations.get(f"{y}~{x}") or {}
            rows.append((y_label, x_label, str(c.get("n", 0)), num(c.get("rho"), c.get("low"), c.get("high"), fmt=".2f", sign=True)))
    return Table("Rank correlation of drift and transfer", ("outcome", "drift measure", "checkpoints", "Spearman ρ [CI]"), tuple(rows))


def drift_point_table(points: Sequence[Mapping[str, Any]]) -> Table:
    """Each checkpoint's drift and transfer."""

    def f(value: float | None, fmt: str) -> str:
        return DASH if value is None else format(value, fmt)

    rows = tuple(
        (p["run"], str(p["step"]), f(p["exact_kl"], ".4f"), f(p["pca_shift"], ".3f"), f(p["ti_non"], "+.1f"), f(p["delta_non"], "+.2f")) for p in points
    )
    return Table("Drift and transfer of every checkpoint", ("run", "step", "exact KL", "PCA shift", "TI_non (%)", "Δ non (points)"), rows)


def drift_transfer_section(points: Sequence[Mapping[str, Any]], correlations: Mapping[str, Any], confidence: float, n: int) -> Section:
    """Drift against transfer: the scatter, the correlations, the points."""
    intro = (
        f"Exact token KL and PCA shift from the base on a fixed sample (the first {n} items of each benchmark) for every checkpoint, "
        "against its TI_non and Δ_non. Spearman's ρ, with a percentile bootstrap CI over checkpoints resampled within each run; "
        "checkpoints of one run are not independent, so the interval is if anything too narrow."
    )
    return _section(
        "Drift against transfer", intro, [correlation_table(correlations), drift_point_table(points)], [drift_transfer_figure(points, correlations, confidence)]
    )


def _spread(s: Mapping[str, Any] | None) -> tuple[str, str, str, str]:
    if not s:
        return (DASH,) * 4
    seeds = ", ".join(DASH if v is None else f"{v:+.1f}" for v in s["per_seed"])
    sd = DASH if s["between_seed_sd"] is None else f"{s['between_seed_sd']:.2f}"
    return num(s["mean"], sign=True), seeds, sd, f"{_triple([s['mean'], *s['items_ci']], sign=True)} / {_triple([s['mean'], *s['hierarchical_ci']], sign=True)}"


def seeds_tables(seeds: Mapping[str, Any]) -> list[Table]:
    """Per seed group: group and benchmark Δ, and TI, with the seed spread and both intervals."""
    tables = []
    for name, r in seeds["groups"].items():
        rows: list[tuple[str, ...]] = [(g, *_spread(r["group_delta"].get(g))) for g in GROUPS]
        rows += [(b, *_spread(s)) for b, s in r["benchmark_delta"].items()]
        for g in TRANSFER_GROUPS:
            t = r["ti"][g]
            seeds_text = ", ".join(DASH if v is None else f"{v:+.0f}" for v in t["per_seed"])
            sd = DASH if t["between_seed_sd"] is None else f"{t['between_seed_sd']:.1f}"
            cis = f"{_triple([t['mean'], *(t['items_ci'] or [None, None])])} / {_triple([t['mean'], *(t['hierarchical_ci'] or [None, None])])}"
            rows.append((f"TI_{g} (%)", DASH if t["mean"] is None else f"{t['mean']:.1f}", seeds_text, sd, cis))
        note = (
            f"{r['training']} against {r['base']}, seeds {', '.join(map(str, r['seed_numbers']))}; Δ in points, the seed mean; SD: between seeds; "
            f"CIs ({int(100 * r['confidence'])}%): bootstrap over items with the seeds fixed / hierarchical, seeds then items; status: {r['status']}"
        )
        tables.append(Table(f"Seed group {name}", ("", "seed mean", "each seed", "SD between seeds", "CI items only / CI seeds then items"), tuple(rows), note))
    return tables


def seeds_section(seeds: Mapping[str, Any]) -> Section:
    """Seeds: the figure and one table per seed group."""
    intro = (
        "Trainings repeated over seeds. Beside each seed mean: every seed's value, their standard deviation, the bootstrap over items with the "
        "seeds fixed, and the hierarchical bootstrap (seeds resampled, then items, one item draw shared by the drawn seeds since every seed "
        "answered the same items). With few seeds the hierarchical interval is itself rough."
    )
    notes = seeds.get("notes") or []
    if notes:
        intro += " Left out: " + "; ".join(notes) + "."
    return _section("Seeds: the spread between trainings", intro, seeds_tables(seeds), [seeds_figure(seeds)] if seeds["groups"] else [])
