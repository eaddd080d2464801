"""Results tables from the store: model x benchmark accuracy with 95% CIs, truncation, lengths.

Completions are grouped by (model, benchmark, sampling settings): two settings are never mixed
into one number. Tables read only the small columns of each cell, a cell at a time, and export
streams its rows: memory does not grow with the texts. Nor are two scorers: where a completion holds verdicts of several scorers (the
default and ``--paper-scoring`` or ``--math-grader qwen25-math``), a cell counts the one asked for,
else the benchmark's default scorer, else the only one present.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from transferlab.benchmarks import scoring_variant
from transferlab.errors import DataError
from transferlab.groups import BENCHMARK_GROUPS
from transferlab.metrics import estimate, mean_pass_at_k
from transferlab.options import MathGraderName
from transferlab.store import Cell, Store


@dataclass(frozen=True)
class BenchmarkResult:
    """One cell of the results table (accuracies in percent)."""

    model: str
    benchmark: str
    group: str
    gen_key: str
    items: int
    samples_per_item: int
    accuracy: float
    ci_low: float
    ci_high: float
    pass_at_k: float | None
    truncated_rate: float  # share of completions that hit the token budget (finish reason "length")
    unclosed_thinking_rate: float  # share whose thinking never closed (scored as wrong)
    mean_completion_tokens: float
    unscored: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def wanted_scorer(benchmark: str, *, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab") -> str | None:
    """The scorer name whose verdicts count for ``benchmark`` (``None``: not a registered benchmark)."""
    try:
        return scoring_variant(benchmark, paper=paper_scoring, math_grader=math_grader).scorer
    except DataError:
        return None


def chosen_scorers(store: Store, *, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab") -> list[tuple[Cell, str | None]]:
    """Each (model, benchmark, settings) cell of the store, sorted, with the scorer whose verdicts
    count there: the one asked for, else the only one present (``None``: none, or several others)."""
    present = store.cell_scorers()
    chosen = []
    for cell in store.cells():
        scorers = present.get(cell, {})
        wanted = wanted_scorer(cell[1], paper_scoring=paper_scoring, math_grader=math_grader)
        chosen.append((cell, wanted if wanted in scorers else (next(iter(scorers)) if len(scorers) == 1 else None)))
    return chosen


def scored_cells(store: Store, *, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab") -> Iterator[tuple[Cell, list[dict[str, Any]]]]:
    """Per (model, benchmark, settings) cell, sorted: one row per completion (no texts: see
    :meth:`Store.verdict_rows`) with the chosen scorer's verdict (``None`` fields where it has none)."""
    for cell, scorer in chosen_scorers(store, paper_scoring=paper_scoring, math_grader=math_grader):
        yield cell, list(store.verdict_rows(*cell, scorers=[scorer] if scorer else []))


def results(
    store: Store, *, confidence: float = 0.95, seed: int = 0, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab"
) -> list[BenchmarkResult]:
    """Every (model, benchmark, settings) cell of the store, counted with one scorer per benchmark:
    the default, or the study's own (``paper_scoring``), or the Qwen2.5-Math harness's for math."""
    table = []
    for (model, benchmark, gen_key), rows in scored_cells(store, paper_scoring=paper_scoring, math_grader=math_grader):
        scored = [r for r in rows if r["score"] is not None]
        by_item: dict[str, list[float]] = defaultdict(list)
        for r in scored:
            by_item[r["item_id"]].append(float(r["score"]))
        est = estimate(by_item, confidence=confidence, seed=seed)
        k = min((len(v) for v in by_item.values()), default=0)
        pass_k = 100 * mean_pass_at_k({i: [s > 0.5 for s in v] for i, v in by_item.items()}, k) if k > 1 else None
        tokens = [r["completion_tokens"] for r in rows if r["completion_tokens"] is not None]
        table.append(
            BenchmarkResult(
                model=model,
                benchmark=benchmark,
                group=BENCHMARK_GROUPS.get(benchmark, "?"),
                gen_key=gen_key,
                items=est.n_items,
                samples_per_item=k,
                accuracy=100 * est.value,
                ci_low=100 * est.low,
                ci_high=100 * est.high,
                pass_at_k=pass_k,
                truncated_rate=100 * float(np.mean([r["finish_reason"] == "length" for r in rows])),
                unclosed_thinking_rate=100 * float(np.mean([r["thinking_status"] == "unclosed" for r in scored])) if scored else 0.0,
                mean_completion_tokens=float(np.mean(tokens)) if tokens else float("nan"),
                unscored=len(rows) - len(scored),
            )
        )
    return table


def render_table(rows: list[BenchmarkResult]) -> Any:
    """A rich table of results."""
    from rich.table import Table

    several_settings = len({(r.model, r.benchmark) for r in rows}) < len(rows)
    table = Table(title="accuracy (%) with 95% bootstrap CI over items")
    for name in (
        ("model", "benchmark", "group")
        + (("settings",) if several_settings else ())
        + ("items", "k", "accuracy", "95% CI", "pass@k", "trunc %", "unclosed %", "tokens")
    ):
        table.add_column(name, justify="left" if name in ("model", "benchmark", "group", "settings") else "right")
    for r in rows:
        cells = [r.model, r.benchmark, r.group] + ([r.gen_key] if several_settings else [])
        cells += [
            str(r.items),
            str(r.samples_per_item),
            f"{r.accuracy:.1f}",
            f"[{r.ci_low:.1f}, {r.ci_high:.1f}]",
            "-" if r.pass_at_k is None else f"{r.pass_at_k:.1f}",
            f"{r.truncated_rate:.1f}",
            f"{r.unclosed_thinking_rate:.1f}",
            f"{r.mean_completion_tokens:.0f}",
        ]
        table.add_row(*cells)
    return table


EXPORT_FIELDS = (
    "model_key",
    "benchmark",
    "item_id",
    "sample_index",
    "seed",
    "gen_key",
    "prompt",
    "text",
    "thinking",
    "answer",
    "thinking_status",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "scorer",
    "score",
    "extracted",
    "score_status",
)


def export_rows(
    store: Store, *, all_scorers: bool = False, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab"
) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per completion (``transferlab export``), its verdict chosen as :func:`results`
    chooses it; ``all_scorers``: one per completion and scorer, every stored verdict. Streamed."""
    if all_scorers:
        source: Iterator[dict[str, Any]] = store.rows()
    else:
        source = (
            row
            for (model, benchmark, gen_key), scorer in chosen_scorers(store, paper_scoring=paper_scoring, math_grader=math_grader)
            for row in store.rows(model_key=model, benchmark=benchmark, gen_key=gen_key, scorers=[scorer] if scorer else [])
        )
    return ({("model" if k == "model_key" else k): row.get(k) for k in EXPORT_FIELDS} for row in source)
