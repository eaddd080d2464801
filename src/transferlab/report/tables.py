"""The report's tables, shaped like the paper's: per benchmark, per group, TI; each number with its CI.

A :class:`Table` is plain strings (headers, rows), rendered to HTML or Markdown by the same code.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlencode

from transferlab.groups import GROUPS
from transferlab.transfer.analysis import StudyAnalysis, TIRow, is_finite
from transferlab.transfer.ti import TRANSFER_GROUPS

DASH = "—"


@dataclass(frozen=True)
class Table:
    """A titled table of strings; ``note`` is printed under it. ``links``, when given, holds one
    URL (or None) per cell, parallel to ``rows``: the cell then links there."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    links: tuple[tuple[str | None, ...], ...] = ()

    def _link(self, i: int, j: int) -> str | None:
        return self.links[i][j] if i < len(self.links) and j < len(self.links[i]) else None

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table with its title and note."""
        esc = [h.replace("|", "\\|") for h in self.headers]
        lines = [f"**{self.title}**", "", "| " + " | ".join(esc) + " |", "|" + "|".join("---" for _ in esc) + "|"]
        for i, row in enumerate(self.rows):
            cells = [c.replace("|", "\\|") for c in row]
            cells = [f"[{c}]({url})" if (url := self._link(i, j)) else c for j, c in enumerate(cells)]
            lines.append("| " + " | ".join(cells) + " |")
        if self.note:
            lines += ["", f"_{self.note}_"]
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML ``<table>`` with a caption (and the note as a paragraph)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{_cell_html(c, self._link(i, j))}</td>" for j, c in enumerate(row)) + "</tr>" for i, row in enumerate(self.rows))
        note = f'<p class="note">{html.escape(self.note)}</p>' if self.note else ""
        return f"<table><caption>{html.escape(self.title)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _cell_html(text: str, url: str | None) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>' if url else html.escape(text)


def samples_url(viewer_url: str | None, model_key: str, benchmark: str, gen_key: str = "") -> str | None:
    """The viewer's samples page of one cell (``transferlab view``), or None without a viewer URL."""
    if not viewer_url:
        return None
    query = {"model": model_key, "benchmark": benchmark} | ({"gen_key": gen_key} if gen_key else {})
    return viewer_url.rstrip("/") + "/samples?" + urlencode(query)


def num(value: float | None, low: float | None = None, high: float | None = None, fmt: str = ".1f", sign: bool = False) -> str:
    """``12.3 [10.1, 14.2]`` (or just the value when there is no interval; a dash for nothing)."""
    if not is_finite(value):
        return DASH
    spec = ("+" if sign else "") + fmt
    text = format(value, spec)
    if is_finite(low) and is_finite(high):
        text += f" [{format(low, spec)}, {format(high, spec)}]"
    return text


TRAINING_LABELS = {"base": "not tuned", "other": "other method"}


def training_label(training: str) -> str:
    """A training method as shown: never a bare word that is also a group name ("other")."""
    return TRAINING_LABELS.get(training, training)


def group_accuracy_table(a: StudyAnalysis) -> Table:
    """Per model, the mean accuracy (%) of each group's benchmarks (points: the mean of its cells)."""
    counts = {g: sum(1 for b in a.benchmarks if a.groups[b] == g) for g in GROUPS}
    headers = ("model", "training method") + tuple(f"{g} ({counts[g]} benchmark{'s' if counts[g] > 1 else ''})" for g in GROUPS if counts[g])
    rows = []
    for m in a.models:
        cells = []
        for g in (g for g in GROUPS if counts[g]):
            values = [a.cells[(m.name, b)].accuracy for b in a.benchmarks if a.groups[b] == g and (m.name, b) in a.cells]
            cells.append(num(sum(values) / len(values)) if len(values) == counts[g] else DASH)
        rows.append((m.name, training_label(m.training), *cells))
    return Table(
        "Accuracy by group (%)", headers, tuple(rows), "mean over the group's benchmarks of the accuracy per benchmark; a dash where a benchmark is missing"
    )


def transfer_table(a: StudyAnalysis) -> Table:
    """Per tuned model: mean Δ per group (points, CI) and TI_other, TI_non of the primary version (%, CI)."""
    v = a.primary_version
    headers = ("tuned", "base", "training method", *(f"Δ {g}" for g in GROUPS), f"TI_other {v}", f"TI_non {v}", "status")
    rows = []
    for p in a.pairs:
        deltas = [num(*p.group_delta[g], sign=True) if g in p.group_delta else DASH for g in GROUPS]
        rows.append((p.tuned, p.base, training_label(p.training), *deltas, *_ti_cells(p.ti.get(v))))
    ci = f"[{int(a.confidence * 100)}% CI] paired bootstrap over items" if a.with_intervals else "points only"
    return Table(
        "Transfer per tuned model",
        tuple(headers),
        tuple(rows),
        f"Δ g: mean over the group's benchmarks of tuned − base, points; TI in %, > 0 transfer, < 0 forgetting; {ci}",
    )


def summary_tables(a: StudyAnalysis) -> list[Table]:
    """The study in two tables: accuracy by group, then each tuned model's group deltas and TI."""
    return [group_accuracy_table(a)] + ([transfer_table(a)] if a.pairs else [])


def _model_columns(a: StudyAnalysis) -> tuple[str, ...]:
    return tuple(f"{m.name} ({training_label(m.training)})" for m in a.models)


def scores_table(a: StudyAnalysis, viewer_url: str | None = None) -> Table:
    """Accuracy (%) per benchmark (rows, in group order) and model (columns); with ``viewer_url``
    each cell links to its samples in ``transferlab view``."""
    headers = ("benchmark", "group") + _model_columns(a)
    rows, links = [], []
    for b in a.benchmarks:
        cells = [a.cells.get((m.name, b)) for m in a.models]
        rows.append((b, a.groups[b]) + tuple(num(c.accuracy, c.low, c.high) if c else DASH for c in cells))
        links.append((None, None) + tuple(samples_url(viewer_url, m.key, b, c.gen_key) if c else None for m, c in zip(a.models, cells)))
    ci = f"{int(a.confidence * 100)}% bootstrap CI over items" if a.with_intervals else "no intervals: scores came without items"
    return Table("Accuracy (%) per benchmark", headers, tuple(rows), ci, tuple(links) if viewer_url else ())


def delta_table(a: StudyAnalysis, viewer_url: str | None = None) -> Table:
    """Δ (points) of each tuned model (columns) per benchmark (rows) with CI and paired-test p, then
    the mean Δ of each group; with ``viewer_url`` a benchmark's Δ links to the items the tuned model forgot."""
    headers = ("benchmark", "group") + tuple(f"{p.tuned} − {p.base}" for p in a.pairs)
    keys = {m.name: m.key for m in a.models}
    rows, links = [], []
    for b in a.benchmarks:
        cells, urls = [], []
        for p in a.pairs:
            d = next((d for d in p.deltas if d.benchmark == b), None)
            text = num(d.delta, d.low, d.high, sign=True) if d else DASH
            cells.append(text + (f" (p={d.p_value:.2g})" if d is not None and d.p_value is not None else ""))
            urls.append(_changes_url(viewer_url, b, keys.get(p.base, ""), keys.get(p.tuned, "")) if d else None)
        rows.append((b, a.groups[b], *cells))
        links.append((None, None, *urls))
    for g in GROUPS:
        if any(g in p.group_delta for p in a.pairs):
            rows.append((f"mean over {g}", g, *(num(*p.group_delta[g], sign=True) if g in p.group_delta else DASH for p in a.pairs)))
    note = (
        "Δ = tuned − base in points; [CI] paired bootstrap over items (and samples); p: paired sign-flip test"
        if a.with_intervals
        else "Δ = tuned − base in points"
    )
    return Table("Change against the base (points)", headers, tuple(rows), note, tuple(links) if viewer_url else ())


def _changes_url(viewer_url: str | None, benchmark: str, base: str, tuned: str) -> str | None:
    if not viewer_url or not base or not tuned:
        return None
    return viewer_url.rstrip("/") + "/changes?" + urlencode({"benchmark": benchmark, "base": base, "tuned": tuned, "kind": "forgot"})


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
    """TI_other and TI_non (%) of each tuned model, one row per version (the primary first), with CIs and the status."""
    versions = [a.primary_version] + [v for v in ("v2", "v1") if v != a.primary_version]
    headers = ("tuned", "base", "training method", "version", "TI_other", "TI_non", "status")
    rows = []
    for p in a.pairs:
        for v in versions:
            rows.append((p.tuned, p.base, training_label(p.training), v, *_ti_cells(p.ti.get(v))))
    sigma = ", ".join(f"{g}={a.sigma[g]:.3g}" for g in GROUPS if a.sigma and g in a.sigma) or DASH
    note = f"TI in %; > 0 transfer, < 0 forgetting; undefined when the math gain is ≈ 0 or its CI spans 0. v2 σ (points): {sigma} [{a.sigma_source}]"
    return Table("Transferability Index", headers, tuple(rows), note)


def generation_table(a: StudyAnalysis) -> Table:
    """Per benchmark (rows) and model (columns): truncation rate (%) and mean tokens per answer."""
    headers = ("benchmark",) + _model_columns(a)
    rows = []
    for b in a.benchmarks:
        cells = []
        for m in a.models:
            c = a.cells.get((m.name, b))
            if c is None or (c.truncated_rate is None and c.mean_tokens is None):
                cells.append(DASH)
            else:
                cells.append(f"{num(c.truncated_rate)}% / {num(c.mean_tokens, fmt='.0f')} tok")
        rows.append((b, *cells))
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
