"""One self-contained HTML page: inline CSS, every figure embedded as a base64 PNG data URI."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from transferlab.report.figures import FigureFile

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.85em;margin-top:-.5em}
figure{margin:1em 0}figure img{max-width:100%}figcaption{color:#555;font-size:.85em}
ul.notes li{font-size:.9em}
"""


@dataclass(frozen=True)
class Section:
    """A part of the report: a title, its HTML and Markdown bodies, and its figures.

    Other parts of transferlab (the drift analyses) add sections to a report by building these
    and passing them as ``extra_sections`` to :func:`transferlab.report.build.build_report`.
    """

    title: str
    html: str = ""
    markdown: str = ""
    figures: Sequence[FigureFile] = field(default_factory=tuple)


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...``"""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_html(fig: FigureFile) -> str:
    """A ``<figure>`` holding the PNG inline."""
    alt = html.escape(fig.caption, quote=True)
    return f'<figure><img src="{data_uri(fig.png)}" alt="{alt}"><figcaption>{html.escape(fig.caption)}</figcaption></figure>'


def render_page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page as a string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(subtitle)}</p>",
    ]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>{s.html}{''.join(figure_html(f) for f in s.figures)}</section>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts)


def render_markdown(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The same report in Markdown; figures link to ``figures/NAME.png``."""
    out = [f"# {title}", "", subtitle, ""]
    for s in sections:
        out += [f"## {s.title}", "", s.markdown, ""]
        out += [f"![{f.caption}](figures/{f.name}.png)\n" for f in s.figures]
    return "\n".join(out).rstrip() + "\n"
