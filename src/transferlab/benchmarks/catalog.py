"""What the registry holds, described: ``transferlab benchmarks`` lists it.

Every row comes from the registered benchmark object itself (its group, mode, scorer, prompt styles
and source); nothing here repeats a table. Items are counted by loading the benchmark where its data
are local (a ``--data-dir`` folder, or generated like the mini-world's); from the hub they are not
counted, since that would download every dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import Benchmark
from transferlab.errors import TransferlabError

MODE_NAMES = {"generate": "generation", "loglikelihood": "log-likelihood"}
GENERATED_PREFIX = "generated:"


@dataclass(frozen=True)
class BenchmarkInfo:
    """One registered benchmark, described. ``items``: its item count (None: not counted, the data
    are on the hub or missing from the data folder); ``count_note`` says why it is missing."""

    name: str
    group: str
    mode: str
    items: int | None
    source: str
    scorer: str
    prompt_styles: tuple[str, ...]
    count_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (prompt styles as a list)."""
        d = asdict(self)
        d["prompt_styles"] = list(self.prompt_styles)
        return d


def describe(benchmark: Benchmark, data_dir: Path | None = None) -> BenchmarkInfo:
    """``benchmark`` described; its items counted when its data are local (see the module doc)."""
    generated = benchmark.hf_id.startswith(GENERATED_PREFIX)
    items: int | None = None
    note = ""
    if generated or data_dir is not None:
        try:
            items = len(benchmark.load(data_dir=data_dir))
        except TransferlabError as err:  # a benchmark without local data (LiveCodeBench lives on the hub)
            note = str(err)
    else:
        note = "on the hub: pass --data-dir to count"
    return BenchmarkInfo(
        name=benchmark.name,
        group=benchmark.group,
        mode=MODE_NAMES.get(benchmark.mode, benchmark.mode),
        items=items,
        source="generated (transferlab.world)" if generated else f"hub {benchmark.hf_id}",
        scorer=benchmark.scorer,
        prompt_styles=tuple(benchmark.prompt_styles),
        count_note=note,
    )


def catalog(benchmarks: Iterable[Benchmark], data_dir: Path | None = None) -> list[BenchmarkInfo]:
    """Each of ``benchmarks`` described, in order."""
    return [describe(b, data_dir) for b in benchmarks]
