"""Results tables from the store: model x benchmark accuracy with 95% CIs, truncation, lengths.

Completions are grouped by (model, benchmark, sampling settings): two settings are never mixed
into one number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from transferlab.benchmarks import BENCHMARK_GROUPS
from transferlab.metrics import estimate, mean_pass_at_k
from transferlab.store import Store


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


def _cells(store: Store) -> Iterator[tuple[tuple[str, str, str], list[dict[str, Any]]]]:
    cells: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in store.rows():
        cell = cells[(row["model_key"], row["benchmark"], row["gen_key"])]
        if row["key"] not in cell or row["scorer"] is not None:
            cell[row["key"]] = row
    for key in sorted(cells):
        yield key, list(cells[key].values())


def results(store: Store, *, confidence: float = 0.95, seed: int = 0) -> list[BenchmarkResult]:
    """Every (model, benchmark, settings) cell of the store."""
    table = []
    for (model, benchmark, gen_key), rows in _cells(store):
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
                model=model, benchmark=benchmark, group=BENCHMARK_GROUPS.get(benchmark, "?"), gen_key=gen_key,
                items=est.n_items, samples_per_item=k,
                accuracy=100 * est.value, ci_low=100 * est.low, ci_high=100 * est.high, pass_at_k=pass_k,
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
    for name in ("model", "benchmark", "group") + (("settings",) if several_settings else ()) + ("items", "k", "accuracy", "95% CI", "pass@k", "trunc %", "unclosed %", "tokens"):
        table.add_column(name, justify="left" if name in ("model", "benchmark", "group", "settings") else "right")
    for r in rows:
        cells = [r.model, r.benchmark, r.group] + ([r.gen_key] if several_settings else [])
        cells += [str(r.items), str(r.samples_per_item), f"{r.accuracy:.1f}", f"[{r.ci_low:.1f}, {r.ci_high:.1f}]",
                  "-" if r.pass_at_k is None else f"{r.pass_at_k:.1f}", f"{r.truncated_rate:.1f}",
                  f"{r.unclosed_thinking_rate:.1f}", f"{r.mean_completion_tokens:.0f}"]
        table.add_row(*cells)
    return table
