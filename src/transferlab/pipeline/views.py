"""The ``results`` views of :func:`~transferlab.pipeline.results.results`, in four formats.

- ``cells``: one row per (model, benchmark, settings): accuracy with its CI, pass@k, truncation...
- ``groups``: one row per (model, group): the mean accuracy over the group's benchmarks (what TI
  compares), narrow enough for an 80-column terminal.

Formats: ``table`` (rich, fitted to the terminal), ``csv``, ``json`` and ``markdown``. The columns
and their meaning are defined once here (:data:`CELL_COLUMNS`, :data:`GROUP_COLUMNS`), and
``transferlab results --help`` prints them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from transferlab.groups import GROUPS
from transferlab.io import json_ready
from transferlab.pipeline.results import BenchmarkResult

VIEWS: Final = ("auto", "cells", "groups")
FORMATS: Final = ("table", "csv", "json", "markdown")
NARROW_COLUMNS: Final = 120  # below this terminal width, ``auto`` shows the groups view
NARROW_CELL_COLUMNS: Final = ("model", "benchmark", "settings", "items", "k", "accuracy", "95% CI")  # the cells view there

CELL_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("model", "the store's model key (name@revision or weights fingerprint)"),
    ("benchmark", "the benchmark's name (transferlab benchmarks lists them)"),
    ("group", "math, other (other reasoning) or non (non-reasoning)"),
    ("settings", "the sampling settings key, shown when a benchmark was run under several"),
    ("items", "items with at least one scored completion"),
    ("k", "scored samples per item (the fewest of any item)"),
    ("accuracy", "mean score in percent (avg@k when k > 1)"),
    ("95% CI", "bootstrap interval over items, percent"),
    ("pass@k", "share of items with at least one correct sample (k > 1 only)"),
    ("trunc %", "completions cut by the token budget (finish reason length)"),
    ("unclosed %", "scored completions whose thinking never closed (scored wrong)"),
    ("tokens", "mean completion length in tokens"),
    ("parser", "the thinking parser(s) its scored completions were split with (think, think-end, none)"),
)
GROUP_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("model", "the store's model key"),
    ("group", "math, other or non"),
    ("bench", "benchmarks of the group the model has results on"),
    ("items", "scored items, summed over those benchmarks"),
    ("mean %", "mean of the benchmarks' accuracies in percent (each benchmark counts once)"),
    ("min", "the lowest benchmark accuracy of the group"),
    ("max", "the highest benchmark accuracy of the group"),
)


def columns_help() -> str:
    """The columns of both views, explained (for ``--help``)."""
    lines = ["columns of --view cells:"] + [f"  {n:<11} {t}" for n, t in CELL_COLUMNS]
    lines += ["columns of --view groups:"] + [f"  {n:<11} {t}" for n, t in GROUP_COLUMNS]
    lines += [f"In a terminal narrower than {NARROW_COLUMNS} columns the cells table keeps {', '.join(c for c in NARROW_CELL_COLUMNS if c != 'settings')}."]
    return "\n".join(lines)


@dataclass(frozen=True)
class GroupResult:
    """One (model, group) row: the mean of its benchmarks' accuracies (percent)."""

    model: str
    group: str
    benchmarks: int
    items: int
    accuracy: float
    lowest: float
    highest: float


def group_results(rows: Sequence[BenchmarkResult]) -> list[GroupResult]:
    """Per model and group, the mean, lowest and highest of the benchmark accuracies (cells without a
    scored item are left out); groups in the paper's order, then any other."""
    by: dict[tuple[str, str], list[BenchmarkResult]] = defaultdict(list)
    for r in rows:
        if r.items > 0 and not math.isnan(r.accuracy):
            by[(r.model, r.group)].append(r)
    order: dict[str, int] = {g: i for i, g in enumerate(GROUPS)}
    out = []
    for (model, group), cells in sorted(by.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order)), kv[0][1])):
        acc = [c.accuracy for c in cells]
        out.append(GroupResult(model, group, len(cells), sum(c.items for c in cells), sum(acc) / len(acc), min(acc), max(acc)))
    return out


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def view_records(rows: Sequence[BenchmarkResult], view: str) -> list[dict[str, Any]]:
    """The view's rows as plain dicts for JSON and CSV: every field of :class:`BenchmarkResult`
    (cells) or of :class:`GroupResult` (groups)."""
    return [asdict(g) for g in group_results(rows)] if view == "groups" else [r.to_dict() for r in rows]


def view_texts(rows: Sequence[BenchmarkResult], view: str, *, narrow: bool = False) -> tuple[list[str], list[list[str]]]:
    """``(columns, texts)`` of a view for display (the table and Markdown formats); ``narrow``: the
    cells view without the columns after the CI (:data:`NARROW_CELL_COLUMNS`), to fit 80 columns."""
    if view == "groups":
        texts = [[g.model, g.group, str(g.benchmarks), str(g.items), _num(g.accuracy), _num(g.lowest), _num(g.highest)] for g in group_results(rows)]
        return [n for n, _ in GROUP_COLUMNS], texts
    several = len({(r.model, r.benchmark) for r in rows}) < len(rows)
    texts = []
    for r in rows:
        t = [r.model, r.benchmark, r.group] + ([r.gen_key] if several else [])
        t += [str(r.items), str(r.samples_per_item), _num(r.accuracy), f"[{_num(r.ci_low)}, {_num(r.ci_high)}]", _num(r.pass_at_k)]
        t += [_num(r.truncated_rate), _num(r.unclosed_thinking_rate), _num(r.mean_completion_tokens, 0), r.thinking_parser or "-"]
        texts.append(t)
    names = [n for n, _ in CELL_COLUMNS if several or n != "settings"]
    if narrow:
        keep = [i for i, n in enumerate(names) if n in NARROW_CELL_COLUMNS]
        return [names[i] for i in keep], [[t[i] for i in keep] for t in texts]
    return names, texts


def choose_view(view: str, width: int) -> str:
    """``auto``: the groups view in a terminal narrower than :data:`NARROW_COLUMNS`, else cells."""
    if view == "auto":
        return "groups" if width < NARROW_COLUMNS else "cells"
    return view


def render(rows: Sequence[BenchmarkResult], view: str, fmt: str, *, width: int | None = None) -> Any:
    """The view in a format: a rich table (``table``) or a string (``csv``, ``json``, ``markdown``).
    A table for a terminal narrower than :data:`NARROW_COLUMNS` (``width``) drops the cells view's
    last columns; the other formats always hold every column."""
    if fmt == "json":
        return json.dumps([json_ready(r) for r in view_records(rows, view)], indent=2)
    if fmt == "csv":
        records = view_records(rows, view)
        buf = io.StringIO()
        fields = list(records[0]) if records else [f for f in (GroupResult.__dataclass_fields__ if view == "groups" else BenchmarkResult.__dataclass_fields__)]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows([{k: _csv_cell(v) for k, v in r.items()} for r in records])
        return buf.getvalue().rstrip("\n")
    narrow = fmt == "table" and width is not None and width < NARROW_COLUMNS
    names, texts = view_texts(rows, view, narrow=narrow)
    if fmt == "markdown":
        right = [n not in ("model", "benchmark", "group", "settings") for n in names]
        lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
        lines += ["| " + " | ".join(t.replace("|", "\\|") for t in row) + " |" for row in texts]
        return "\n".join(lines)
    from rich import box
    from rich.table import Table

    title = "mean accuracy (%) per group (--view cells: per benchmark)" if view == "groups" else "accuracy (%) with 95% bootstrap CI over items"
    if narrow and view == "cells":
        title += " (all columns: a wider terminal or --format csv)"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for n in names:
        table.add_column(n, justify="left" if n in ("model", "benchmark", "group", "settings") else "right", overflow="fold")
    for row in texts:
        table.add_row(*row)
    return table


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 4)
    return "" if value is None else value
