"""The report's tables, shaped like the paper's: per benchmark, per group, TI; each number with its CI.

A :class:`Table` is plain strings (headers, rows), rendered to HTML or Markdown by the same code.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from transferlab.groups import GROUPS
from transferlab.transfer.analysis import StudyAnalysis, TIRow, is_finite
from transferlab.transfer.ti import TRANSFER_GROUPS

DASH = "—"


@dataclass(frozen=True)
class Table:
    """A titled table of strings; ``note`` is printed under it."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table with its title and note."""
        esc = [h.replace("|", "\\|") for h in self.headers]
        lines = [f"**{self.title}**", "", "| " + " | ".join(esc) + " |", "|" + "|".join("---" for _ in esc) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self.rows]
        if self.note:
            lines += ["", f"_{self.note}_"]
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML ``<table>`` with a caption (and the note as a paragraph)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        note = f'<p class="note">{html.escape(self.note)}</p>' if self.note else ""
        return f"<table><caption>{html.escape(self.title)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def num(value: float | None, low: float | None = None, high: float | None = None, fmt: str = ".1f", sign: bool = False) -> str:
    """``12.3 [10.1, 14.2]`` (or just the value when there is no interval; a dash for nothing)."""
    if not is_finite(value):
        return DASH
    spec = ("+" if sign else "") + fmt
    text = format(value, spec)
    if is_finite(low) and is_finite(high):
        text += f" [{format(low, spec)}, {format(high, spec)}]"
    return text


def scores_table(a: StudyAnalysis) -> Table:
    """Accuracy (%) of every model on every benchmark, benchmarks in group order."""
    headers = ("model", "training") + tuple(f"{b} ({a.groups[b]})" for b in a.benchmarks)
    rows = []
    for m in a.models:
        cells = [a.cells.get((m.name, b)) for b in a.benchmarks]
        rows.append((m.name, m.training) + tuple(num(c.accuracy, c.low, c.high) if c else DASH for c in cells))
    ci = f"{int(a.confidence * 100)}% bootstrap CI over items" if a.with_intervals else "no intervals: scores came without items"
    return Table("Accuracy (%) per benchmark", headers, tuple(rows), ci)


def delta_table(a: StudyAnalysis) -> Table:
    """Per tuned model: Δ (points) per benchmark with CI and paired-test p, then per-group mean Δ."""
    headers = ("tuned", "base") + a.benchmarks + tuple(f"mean Δ {g}" for g in GROUPS)
    rows = []
    for p in a.pairs:
        by_bench = {d.benchmark: d for d in p.deltas}
        cells = []
        for b in a.benchmarks:
            d = by_bench.get(b)
            text = num(d.delta, d.low, d.high, sign=True) if d else DASH
            if d is not None and d.p_value is not None:
                text += f" (p={d.p_value:.2g})"
            cells.append(text)
        groups = [num(*p.group_delta[g], sign=True) if g in p.group_delta else DASH for g in GROUPS]
        rows.append((p.tuned, p.base, *cells, *groups))
    note = (
        "Δ = tuned − base in points; [CI] paired bootstrap over items (and samples); p: paired sign-flip test"
        if a.with_intervals
        else "Δ = tuned − base in points"
    )
    return Table("Change against the base (points)", headers, tuple(rows), note)


def _ti_cells(row: TIRow | None) -> list[str]:
    if row is None or row.point is None:
        reason = "not computed" if row is None else f"not computed: {row.error}"
        return [DASH] * len(TRANSFER_GROUPS) + [reason]
    cells = []
    for g in TRANSFER_GROUPS:
        low, high = row.ci.get(g) or (None, None)
        cells.append(num(row.point.ti.get(g), low, high, fmt=".0f", sign=True))
    return cells + [row.status + (f" ({row.point.reason})" if row.point.reason else "")]


def ti_table(a: StudyAnalysis) -> Table:
    """TI_other and TI_non (%) of each tuned model, both versions, with CIs and the status."""
    versions = [a.primary_version] + [v for v in ("v2", "v1") if v != a.primary_version]
    headers = ["tuned", "base", "training"]
    for v in versions:
        headers += [f"TI_other {v}", f"TI_non {v}", f"status {v}"]
    rows = []
    for p in a.pairs:
        cells = [p.tuned, p.base, p.training]
        for v in versions:
            cells += _ti_cells(p.ti.get(v))
        rows.append(tuple(cells))
    sigma = ", ".join(f"{g}={a.sigma[g]:.3g}" for g in GROUPS if a.sigma and g in a.sigma) or DASH
    note = f"TI in %; > 0 transfer, < 0 forgetting; undefined when the math gain is ≈ 0 or its CI spans 0. v2 σ (points): {sigma} [{a.sigma_source}]"
    return Table("Transferability Index", tuple(headers), tuple(rows), note)


def generation_table(a: StudyAnalysis) -> Table:
    """Per model and benchmark: truncation rate (%) and mean tokens per answer."""
    headers = ("model",) + tuple(a.benchmarks)
    rows = []
    for m in a.models:
        cells = []
        for b in a.benchmarks:
            c = a.cells.get((m.name, b))
            if c is None or (c.truncated_rate is None and c.mean_tokens is None):
                cells.append(DASH)
            else:
                cells.append(f"{num(c.truncated_rate)}% / {num(c.mean_tokens, fmt='.0f')} tok")
        rows.append((m.name, *cells))
    return Table("Truncation and length", headers, tuple(rows), "share of answers that hit the token budget / mean tokens per answer")


def settings_table(a: StudyAnalysis) -> Table:
    """The study's generation settings (the same for every model), a benchmark's own ones last."""
    gen = a.settings.get("generation", {})
    overrides = a.settings.get("generation_overrides") or {}
    rows = [(k, str(v)) for k, v in gen.items()] + [(f"{b}: {k}", str(v)) for b, values in overrides.items() for k, v in values.items()]
    note = "rows named after a benchmark are that benchmark's own settings" if overrides else ""
    return Table("Generation settings (every model)", ("setting", "value"), tuple(rows), note)


def all_tables(a: StudyAnalysis) -> list[Table]:
    """Every table of the report, in order."""
    tables = [scores_table(a), delta_table(a), ti_table(a)]
    if a.with_intervals:
        tables += [generation_table(a), settings_table(a)]
    return tables
