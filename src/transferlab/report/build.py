"""Write a report: ``OUT/index.html`` (self-contained), ``OUT/report.md`` and ``OUT/figures/*.png``.

    transferlab report --store runs.db --out report/ [--spec configs/X.yaml]

:func:`build_report` takes optional ``extra_sections`` (:class:`~transferlab.report.html.Section`):
the hook through which other analyses (latent and token drift) join the same page.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

from transferlab import __version__
from transferlab.errors import StoreError
from transferlab.report.figures import FigureFile, all_figures, delta_bars, generation_bars, ti_scatter
from transferlab.report.html import Section, render_markdown, render_page
from transferlab.report.tables import Table, delta_table, generation_table, scores_table, settings_table, ti_table
from transferlab.transfer.analysis import StudyAnalysis


def _tables_section(title: str, tables: Sequence[Table], figures: Sequence[FigureFile] = (), intro: str = "") -> Section:
    html_body = (f"<p>{html.escape(intro)}</p>" if intro else "") + "".join(t.to_html() for t in tables)
    md = ((intro + "\n\n") if intro else "") + "\n\n".join(t.to_markdown() for t in tables)
    return Section(title, html_body, md, tuple(figures))


def _list_section(title: str, items: Sequence[str], empty: str) -> Section:
    if not items:
        return Section(title, f"<p>{html.escape(empty)}</p>", empty)
    body = '<ul class="notes">' + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    return Section(title, body, "\n".join(f"- {i}" for i in items))


def study_sections(a: StudyAnalysis) -> list[Section]:
    """The standard sections of a study report, in order."""
    sections = [_tables_section("Scores", [scores_table(a)])]
    if a.pairs:  # a store with one model: results only
        sections.append(_tables_section("Change against the base", [delta_table(a)], delta_bars(a)))
        sections.append(
            _tables_section("Transferability Index", [ti_table(a)], [ti_scatter(a)], intro="TI v2 (default) and v1 as PAPER.md section 2 defines them.")
        )
    if a.with_intervals:
        sections.append(_tables_section("Generation: truncation and length", [generation_table(a)], [generation_bars(a)]))
        sections.append(_tables_section("Settings", [settings_table(a)]))
        sections.append(_list_section("Settings differences found", list(a.differences), "none: every model ran under the same settings and library versions"))
    sections.append(_list_section("Notes", list(a.notes), "none"))
    return sections


def _write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data) if isinstance(data, bytes) else tmp.write_text(data, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"could not write {path}: {err.strerror}", "check the disk space and permissions of --out") from err


def build_report(a: StudyAnalysis, out_dir: str | Path, *, extra_sections: Sequence[Section] = ()) -> Path:
    """Render ``a`` (and any ``extra_sections``) into ``out_dir``; returns the path of index.html."""
    out = Path(out_dir)
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create {out}/figures: {err.strerror}", "choose another --out") from err
    sections = study_sections(a) + list(extra_sections)
    names = [f.name for s in sections for f in s.figures]
    if len(names) != len(set(names)):
        raise ValueError(f"two figures share a name: {sorted({n for n in names if names.count(n) > 1})}")
    for s in sections:
        for f in s.figures:
            _write(out / "figures" / f"{f.name}.png", f.png)
    title = f"transferlab report: {a.title}"
    subtitle = f"{len(a.models)} models, {len(a.pairs)} pairs, {len(a.benchmarks)} benchmarks; transferlab {__version__}"
    _write(out / "report.md", render_markdown(title, subtitle, sections))
    index = out / "index.html"
    _write(index, render_page(title, subtitle, sections))
    return index


__all__ = ["Section", "FigureFile", "build_report", "study_sections", "all_figures"]
