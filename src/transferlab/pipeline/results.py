"""Results tables from the store: model x benchmark accuracy with 95% CIs, truncation, lengths.

Completions are grouped by (model, benchmark, sampling settings): two settings are never mixed
into one number. Tables read only the small columns of each cell, a cell at a time, and export
streams its rows: memory does not grow with the texts. Nor are two scorers mixed: where a
completion holds verdicts of several scorers (the default and ``--paper-scoring`` or
``--math-grader qwen25-math``), a cell counts the one asked for, else the only one present (:meth:`ScorerChoice.choose`, which ``ti`` and ``report`` use too).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

from transferlab.benchmarks import benchmark_group, scoring_variant
from transferlab.errors import DataError
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
    thinking_parser: str = ""  # the parser(s) its scored completions were split with ("think", "think+think-end")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


_VERDICT_FIELDS = ("scorer", "score", "extracted", "thinking", "answer", "thinking_status", "score_status", "details")


def wanted_scorer(
    benchmark: str, *, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab", definitions: Mapping[str, dict[str, Any]] | None = None
) -> str | None:
    """The scorer name whose verdicts count for ``benchmark`` (``None``: an unknown benchmark)."""
    try:
        return scoring_variant(benchmark, paper=paper_scoring, math_grader=math_grader, definitions=definitions).scorer
    except DataError:
        return None


@dataclass(frozen=True)
class ScorerChoice:
    """Whose verdicts a cell counts: the default scorers, the study's own (``paper_scoring``), or
    for math the Qwen2.5-Math harness's (``math_grader``). One choice for ``results``, ``export``,
    ``ti`` and ``report`` (their ``--paper-scoring`` and ``--math-grader``)."""

    paper_scoring: bool = False
    math_grader: MathGraderName = "transferlab"

    def choose(self, benchmark: str, present: Collection[str], definitions: Mapping[str, dict[str, Any]] | None = None) -> str | None:
        """The scorer whose verdicts count for a cell of ``benchmark`` whose completions hold verdicts
        of the ``present`` scorers: the one asked for, else the only one present, else ``None``.
        ``definitions``: the store's benchmarks of your own (:meth:`Store.benchmark_definitions`)."""
        wanted = wanted_scorer(benchmark, paper_scoring=self.paper_scoring, math_grader=self.math_grader, definitions=definitions)
        return wanted if wanted in present else (next(iter(present)) if len(present) == 1 else None)

    def for_cell(self, store: Store, cell: Cell, definitions: Mapping[str, dict[str, Any]] | None = None, *, max_samples: int | None = None) -> str | None:
        """:meth:`choose` for one stored cell (sample indices below ``max_samples``), asked of the
        store in SQL: whether the wanted scorer graded anything there (one index probe), and only
        where it did not, which scorers did (one pass over the cell's verdicts)."""
        model_key, benchmark, gen_key = cell
        wanted = wanted_scorer(benchmark, paper_scoring=self.paper_scoring, math_grader=self.math_grader, definitions=definitions)
        if wanted is not None and store.has_verdicts(model_key, benchmark, gen_key, wanted, max_samples=max_samples):
            return wanted
        return self.choose(benchmark, store.cell_scorer_names(model_key, benchmark, gen_key, max_samples=max_samples), definitions)


DEFAULT_SCORING: Final[ScorerChoice] = ScorerChoice()
"""The default scorers' verdicts (no ``--paper-scoring``, ``--math-grader transferlab``)."""


def chosen_scorers(store: Store, *, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab") -> list[tuple[Cell, str | None]]:
    """Each (model, benchmark, settings) cell of the store, sorted, with the scorer whose verdicts
    count there (:meth:`ScorerChoice.for_cell`; ``None``: none, or several others). Asked in SQL."""
    choice = ScorerChoice(paper_scoring, math_grader)
    definitions = store.benchmark_definitions()
    return [(cell, choice.for_cell(store, cell, definitions)) for cell in store.cells()]


def scored_cells(store: Store, *, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab") -> Iterator[tuple[Cell, list[dict[str, Any]]]]:
    """Per (model, benchmark, settings) cell, sorted: one row per completion (no texts: see
    :meth:`Store.verdict_rows`) with the chosen scorer's verdict (``None`` fields where it has none).
    One cell in memory at a time."""
    for cell, scorer in chosen_scorers(store, paper_scoring=paper_scoring, math_grader=math_grader):
        yield cell, list(store.verdict_rows(*cell, scorers=[scorer] if scorer else []))


def chosen_verdicts(
    benchmark: str, rows: Iterable[dict[str, Any]], choice: ScorerChoice = DEFAULT_SCORING, definitions: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One row per completion of one cell of ``benchmark`` (rows: a completion joined with each of
    its verdicts, as :meth:`Store.rows` gives them, with at least ``key`` and ``scorer``), holding
    the verdict of the scorer ``choice`` picks; ``None`` score fields where that scorer has none.
    ``definitions``: the store's benchmarks of your own (:meth:`Store.benchmark_definitions`)."""
    by_completion: dict[str, dict[str | None, dict[str, Any]]] = defaultdict(dict)
    for stored in rows:
        by_completion[stored["key"]][stored["scorer"]] = stored
    present = {s for verdicts in by_completion.values() for s in verdicts if s is not None}
    chosen = choice.choose(benchmark, present, definitions)
    out = []
    for verdicts in by_completion.values():
        row: dict[str, Any] | None = verdicts.get(chosen) if chosen is not None else None
        if row is None:  # no verdict of the chosen scorer: the completion counts as unscored
            row = {**next(iter(verdicts.values())), **dict.fromkeys(_VERDICT_FIELDS)}
        out.append(row)
    return out


def parsers_used(rows: Iterable[dict[str, Any]]) -> str:
    """The thinking parser(s) that split these scored rows (:meth:`Store.rows` dicts): one name, or
    several joined by "+" (sorted); "" when none is recorded. The report shows it per model."""
    names = {str((r.get("details") or {}).get("thinking_parser") or "") for r in rows if r.get("score") is not None}
    return "+".join(sorted(n for n in names if n))


def results(
    store: Store, *, confidence: float = 0.95, seed: int = 0, paper_scoring: bool = False, math_grader: MathGraderName = "transferlab"
) -> list[BenchmarkResult]:
    """Every (model, benchmark, settings) cell of the store, counted with one scorer per benchmark:
    the default, or the study's own (``paper_scoring``), or the Qwen2.5-Math harness's for math."""
    definitions = store.benchmark_definitions()
    return [
        cell_result(model, benchmark, gen_key, rows, confidence=confidence, seed=seed, definitions=definitions)
        for (model, benchmark, gen_key), rows in scored_cells(store, paper_scoring=paper_scoring, math_grader=math_grader)
    ]


def cell_result(
    model: str,
    benchmark: str,
    gen_key: str,
    rows: Sequence[dict[str, Any]],
    *,
    confidence: float = 0.95,
    seed: int = 0,
    definitions: Mapping[str, dict[str, Any]] | None = None,
) -> BenchmarkResult:
    """One cell from its rows (one per completion, as :func:`chosen_verdicts` gives them; the fields
    used: ``item_id``, ``score``, ``finish_reason``, ``thinking_status``, ``completion_tokens``,
    ``details`` (decoded)); ``definitions``: the store's benchmarks of your own, for their group."""
    scored = [r for r in rows if r["score"] is not None]
    by_item: dict[str, list[float]] = defaultdict(list)
    for r in scored:
        by_item[r["item_id"]].append(float(r["score"]))
    est = estimate(by_item, confidence=confidence, seed=seed)
    k = min((len(v) for v in by_item.values()), default=0)
    pass_k = 100 * mean_pass_at_k({i: [s > 0.5 for s in v] for i, v in by_item.items()}, k) if k > 1 else None
    tokens = [r["completion_tokens"] for r in rows if r["completion_tokens"] is not None]
    return BenchmarkResult(
        model=model,
        benchmark=benchmark,
        group=benchmark_group(benchmark, definitions) or "?",
        gen_key=gen_key,
        items=est.n_items,
        samples_per_item=k,
        accuracy=100 * est.value,
        ci_low=100 * est.low,
        ci_high=100 * est.high,
        pass_at_k=pass_k,
        truncated_rate=100 * float(np.mean([r["finish_reason"] == "length" for r in rows])) if rows else 0.0,
        unclosed_thinking_rate=100 * float(np.mean([r["thinking_status"] == "unclosed" for r in scored])) if scored else 0.0,
        mean_completion_tokens=float(np.mean(tokens)) if tokens else float("nan"),
        unscored=len(rows) - len(scored),
        thinking_parser=parsers_used(scored),
    )


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
    "thinking_parser",
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
    return ({("model" if k == "model_key" else k): _field(row, k) for k in EXPORT_FIELDS} for row in source)


def _field(row: dict[str, Any], name: str) -> Any:
    """A stored row's field; the thinking parser lives in the verdict's details."""
    return (row.get("details") or {}).get(name) if name == "thinking_parser" else row.get(name)
